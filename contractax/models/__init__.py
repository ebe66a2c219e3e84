"""Equinox models: firing-rate, implicit (μ∞-parametrised), monotone DEQ, generic DEQ, LSTM,
deep linear and two-layer ReLU networks. Constructors follow equinox: sizes, hyperparameters,
`key=`."""

from .deep_linear import DeepLinear as DeepLinear, deep_linear_loss as deep_linear_loss
from .deq import DEQ as DEQ
from .firing_rate import FiringRateNetwork as FiringRateNetwork
from .implicit import (
    ImplicitNetwork as ImplicitNetwork,
    mu_infinity_parametrisation as mu_infinity_parametrisation,
)
from .language import LSTMLanguageModel as LSTMLanguageModel
from .lbdn import LBDN as LBDN, OrthogonalLinear as OrthogonalLinear, SandwichLayer as SandwichLayer
from .lstm import (
    GRUCell as GRUCell,
    LSTMCell as LSTMCell,
    TanhRNNCell as TanhRNNCell,
    chaotic_lstm as chaotic_lstm,
)
from .mondeq import (
    MonotoneDEQ as MonotoneDEQ,
    monotone_parameters as monotone_parameters,
    monotone_parametrisation as monotone_parametrisation,
)
from .ren import (
    ContractingREN as ContractingREN,
    LipschitzREN as LipschitzREN,
    RENExplicit as RENExplicit,
)
from .residual import (
    DenseResidualCell as DenseResidualCell,
    ResidualCell as ResidualCell,
    ResidualNetwork as ResidualNetwork,
    repeat as repeat,
)
from .two_layer import TwoLayerReLU as TwoLayerReLU, two_layer_loss as two_layer_loss
