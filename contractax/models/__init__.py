"""Equinox models: firing-rate, implicit (μ∞-parametrised), monotone DEQ, generic DEQ, LSTM,
deep linear and two-layer ReLU networks. Constructors follow equinox: sizes, hyperparameters,
`key=`."""

from .lstm import GRUCell as GRUCell
from .lstm import LSTMCell as LSTMCell
from .lstm import TanhRNNCell as TanhRNNCell
from .lstm import chaotic_lstm as chaotic_lstm
