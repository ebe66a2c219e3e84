"""Flynn's slow–fast learning system: forward, adjoint and weight flows on diffrax.

The system (Flynn 2015, eq. 2.7) trains a contracting recurrent network $\\dot x = f(x, w)$ on
the objective $g(x^*(w))$, locally in time and space:

$$\\tau_x \\dot x = f(x, w),\\qquad \\tau_y \\dot y = y D_x f - D_x g,\\qquad
  \\dot w = h = y D_w f,$$

with $\\tau_x = \\tau_y = \\tau$ in the paper. A learning system is an
`AbstractLearningSystem` holding $(f, g)$ and its state norm: `LearningSystem(f, g)` for two
callables, or one of the networks of §7 (`FixedFeedbackNetwork`, `ReservoirReadoutNetwork`,
`BoundedWeightNetwork`). `timescale` computes a τ for which the weight flow provably descends
the true objective (Thm. 3, Prop. 3, 5, 6, Thm. 4); `simulate` integrates the system with
diffrax and monitors the descent ratio $\\|h - h^*\\|_2/\\|h\\|_2$ (eq. 4.1) against the exact
gradient $h^* = -\\nabla_w g(x^*(w))$ (`contractax.fixed_point` and implicit differentiation).

Source: T. Flynn, *Timescale Separation in Recurrent Neural Networks*, Neural Computation 2015
(seed 000).
"""

from ._bounds import (
    ACTIVATIONS as ACTIVATIONS,
    DerivativeBounds as DerivativeBounds,
    Timescale as Timescale,
    activation_bounds as activation_bounds,
    fixed_feedback_bounds as fixed_feedback_bounds,
    timescale as timescale,
)
from ._core import (
    FixedPointSettings as FixedPointSettings,
    descent_ratio as descent_ratio,
    objective as objective,
)
from ._flows import (
    Bootstrap as Bootstrap,
    GradientFlow as GradientFlow,
    bootstrap as bootstrap,
    gradient_flow as gradient_flow,
    sweep_tau as sweep_tau,
)
from ._networks import (
    BoundedWeightNetwork as BoundedWeightNetwork,
    FixedFeedbackNetwork as FixedFeedbackNetwork,
    ReservoirReadoutNetwork as ReservoirReadoutNetwork,
)
from ._simulate import RESULTS as RESULTS, Trajectory as Trajectory, simulate as simulate
from ._system import (
    AbstractLearningSystem as AbstractLearningSystem,
    LearningSystem as LearningSystem,
    joint_norm as joint_norm,
    vector_field as vector_field,
)

__all__ = [
    "ACTIVATIONS",
    "AbstractLearningSystem",
    "Bootstrap",
    "BoundedWeightNetwork",
    "DerivativeBounds",
    "FixedFeedbackNetwork",
    "FixedPointSettings",
    "GradientFlow",
    "LearningSystem",
    "RESULTS",
    "ReservoirReadoutNetwork",
    "Timescale",
    "Trajectory",
    "activation_bounds",
    "bootstrap",
    "descent_ratio",
    "fixed_feedback_bounds",
    "gradient_flow",
    "joint_norm",
    "objective",
    "simulate",
    "sweep_tau",
    "timescale",
    "vector_field",
]
