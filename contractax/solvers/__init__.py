"""Differentiable fixed-point solvers for deep equilibrium and implicit networks.

`fixed_point(f, z0, args, solver=..., adjoint=...)` solves z = f(z, args); solvers are
`Picard`, `Relaxed`, `Anderson`, `Broyden`; adjoints are `ImplicitAdjoint`,
`UnrolledAdjoint`, `JacobianFreeAdjoint`, `NeumannAdjoint`. Source: seed 004 §2.1, §2.3.
"""

from ._adjoints import (
    AbstractAdjoint as AbstractAdjoint,
)
from ._adjoints import (
    ImplicitAdjoint as ImplicitAdjoint,
)
from ._adjoints import (
    JacobianFreeAdjoint as JacobianFreeAdjoint,
)
from ._adjoints import (
    NeumannAdjoint as NeumannAdjoint,
)
from ._adjoints import (
    UnrolledAdjoint as UnrolledAdjoint,
)
from ._fixed_point import fixed_point as fixed_point
from ._results import RESULTS as RESULTS
from ._results import Solution as Solution
from ._solvers import (
    AbstractSolver as AbstractSolver,
)
from ._solvers import (
    Anderson as Anderson,
)
from ._solvers import (
    Broyden as Broyden,
)
from ._solvers import (
    Picard as Picard,
)
from ._solvers import (
    Relaxed as Relaxed,
)
from ._splitting import ForwardBackward as ForwardBackward
from ._splitting import PeacemanRachford as PeacemanRachford
from ._splitting import monotone_solve as monotone_solve
