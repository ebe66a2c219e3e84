"""contractax: contraction theory, implicit layers and learning dynamics of neural networks in JAX.

The topic modules are imported as attributes (`cx.norms`, `cx.contraction`, ...); the most used
names are re-exported here.
"""

from importlib.metadata import PackageNotFoundError, version

from . import contraction as contraction
from . import data as data
from . import gd as gd
from . import models as models
from . import landscape as landscape
from . import ntk as ntk
from . import norms as norms
from . import rnn as rnn
from . import sweep as sweep
from . import train as train
from . import solvers as solvers
from . import slowfast as slowfast
from .solvers import (
    RESULTS as RESULTS,
    Anderson as Anderson,
    Broyden as Broyden,
    ImplicitAdjoint as ImplicitAdjoint,
    JacobianFreeAdjoint as JacobianFreeAdjoint,
    NeumannAdjoint as NeumannAdjoint,
    Picard as Picard,
    Relaxed as Relaxed,
    Solution as Solution,
    UnrolledAdjoint as UnrolledAdjoint,
    fixed_point as fixed_point,
)
from .solvers import ForwardBackward as ForwardBackward
from .solvers import PeacemanRachford as PeacemanRachford


try:
    __version__ = version("contractax")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.1.0"
