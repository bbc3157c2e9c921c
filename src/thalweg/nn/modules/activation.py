"""``torch.nn.modules.activation``'s names, resolved lazily from where thalweg defines them."""

from ._alias import install

install(__name__,
        ("ReLU", "ReLU6", "LeakyReLU", "ELU", "SELU", "CELU", "GELU", "SiLU", "Mish", "Sigmoid", "Tanh", "Softmax",
         "LogSoftmax", "Softmin", "Softplus", "Softsign", "Hardtanh", "Hardswish", "Hardsigmoid", "Threshold",
         "PReLU", "GLU", "LogSigmoid", "Tanhshrink", "Softshrink", "Hardshrink", "MultiheadAttention"),
        ("thalweg.nn.activation", "thalweg.nn.activation_extra", "thalweg.nn.attention"))
