"""Differentiable fixed-point solvers for deep equilibrium and implicit networks.

`fixed_point(f, z0, args, solver=..., adjoint=...)` solves z = f(z, args); solvers are
`Picard`, `Relaxed`, `Anderson`, `Broyden`; adjoints are `ImplicitAdjoint`,
`UnrolledAdjoint`, `JacobianFreeAdjoint`, `NeumannAdjoint`. Source: seed 004 §2.1, §2.3.
"""

from ._adjoints import (
    AbstractAdjoint as AbstractAdjoint,
    ImplicitAdjoint as ImplicitAdjoint,
    JacobianFreeAdjoint as JacobianFreeAdjoint,
    NeumannAdjoint as NeumannAdjoint,
    UnrolledAdjoint as UnrolledAdjoint,
)
from ._fixed_point import fixed_point as fixed_point
from ._results import RESULTS as RESULTS, Solution as Solution
from ._solvers import (
    AbstractSolver as AbstractSolver,
    Anderson as Anderson,
    Broyden as Broyden,
    Picard as Picard,
    Relaxed as Relaxed,
)
from ._splitting import (
    ForwardBackward as ForwardBackward,
    PeacemanRachford as PeacemanRachford,
    monotone_solve as monotone_solve,
)
