"""contractax: contraction theory, implicit layers and learning dynamics of neural networks in JAX.

The topic modules are imported as attributes (`cx.norms`, `cx.contraction`, ...); the most used
names are re-exported here.
"""

from importlib.metadata import PackageNotFoundError, version

from . import (
    contraction as contraction,
    convergence as convergence,
    data as data,
    entropy as entropy,
    gd as gd,
    landscape as landscape,
    models as models,
    norms as norms,
    ntk as ntk,
    plot as plot,
    rnn as rnn,
    semicontraction as semicontraction,
    slowfast as slowfast,
    solvers as solvers,
    sweep as sweep,
    train as train,
)
from .solvers import (
    RESULTS as RESULTS,
    Anderson as Anderson,
    Broyden as Broyden,
    ForwardBackward as ForwardBackward,
    ImplicitAdjoint as ImplicitAdjoint,
    JacobianFreeAdjoint as JacobianFreeAdjoint,
    NeumannAdjoint as NeumannAdjoint,
    PeacemanRachford as PeacemanRachford,
    Picard as Picard,
    Relaxed as Relaxed,
    Solution as Solution,
    UnrolledAdjoint as UnrolledAdjoint,
    fixed_point as fixed_point,
)

try:
    __version__ = version("contractax")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.1.0"
