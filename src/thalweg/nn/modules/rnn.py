"""``torch.nn.modules.rnn``'s names, resolved lazily from where thalweg defines them."""

from ._alias import install

install(__name__,
        ("RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"),
        ("thalweg.nn.recurrent",))
