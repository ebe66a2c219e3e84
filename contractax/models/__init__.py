"""Equinox models: firing-rate, implicit (μ∞-parametrised), monotone DEQ, generic DEQ, LSTM,
deep linear and two-layer ReLU networks. Constructors follow equinox: sizes, hyperparameters,
`key=`."""
