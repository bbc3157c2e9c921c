"""The two reference models of the command line: an MLP and a LeNet-5-style CNN.

``mlp``: Flatten, then ``Linear -> ReLU -> Dropout`` per hidden layer, then a
``Linear`` to the classes (784-256-256-10 for MNIST in the reproduction).

``lenet5``: LeCun, Bottou, Bengio and Haffner, "Gradient-based learning
applied to document recognition" (1998): two convolution + subsampling
stages (6 then 16 feature maps), then fully connected layers of 120 and 84
units and the output.  "Style" because it uses today's choices (ReLU, max
pooling, a plain linear output) instead of scaled tanh, trainable average
subsampling and RBF outputs.  On 28x28 inputs the first convolution pads by
2 (LeNet-5 read 32x32 images), so the maps are 28 -> 14 -> 10 -> 5 and the
flattened size is 16*5*5 = 400; on small images (the 8x8 digits) the kernels
are 3x3 with padding 1 (8 -> 4 -> 4 -> 2, 16*2*2 = 64).

``init_weights`` re-initializes every Linear/Conv weight with a named scheme
(Glorot, He, LeCun, orthogonal) and zeros the biases, for comparing
initializations from the same seed.
"""

from __future__ import annotations

from typing import Any, Sequence

from .. import nn

__all__ = ["mlp", "lenet5", "init_weights", "INITS", "count_parameters"]


def mlp(in_features: int, num_classes: int, hidden: Sequence[int] = (256, 256), *, dropout: float = 0.0,
        activation: str = "relu") -> nn.Module:
    """``Flatten -> [Linear -> act -> Dropout] * len(hidden) -> Linear``."""
    acts = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "elu": nn.ELU, "gelu": nn.GELU}
    if activation not in acts:
        raise ValueError(f"mlp: unknown activation {activation!r}; valid: {', '.join(acts)}")
    if in_features <= 0 or num_classes <= 0 or any(h <= 0 for h in hidden):
        raise ValueError(f"mlp: sizes must be positive, got in={in_features}, hidden={list(hidden)}, out={num_classes}")
    layers: list[nn.Module] = [nn.Flatten()]
    width = in_features
    for h in hidden:
        layers += [nn.Linear(width, h), acts[activation]()]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        width = h
    layers.append(nn.Linear(width, num_classes))
    return nn.Sequential(*layers)


def lenet5(in_channels: int = 1, image_size: int = 28, num_classes: int = 10, *, dropout: float = 0.0) -> nn.Module:
    """LeNet-5 style CNN for square ``image_size`` inputs (see the module docstring for the sizes)."""
    if image_size >= 20:
        k, pad1, pad2 = 5, 2, 0
    elif image_size >= 4:
        k, pad1, pad2 = 3, 1, 1
    else:
        raise ValueError(f"lenet5: images of {image_size}x{image_size} are too small (need at least 4x4)")
    s = (image_size + 2 * pad1 - k + 1) // 2
    s = (s + 2 * pad2 - k + 1) // 2
    layers: list[nn.Module] = [
        nn.Conv2d(in_channels, 6, k, padding=pad1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, k, padding=pad2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(16 * s * s, 120), nn.ReLU(),
    ]
    if dropout > 0:
        layers.append(nn.Dropout(dropout))
    layers += [nn.Linear(120, 84), nn.ReLU()]
    if dropout > 0:
        layers.append(nn.Dropout(dropout))
    layers.append(nn.Linear(84, num_classes))
    return nn.Sequential(*layers)


INITS = ("default", "xavier-uniform", "xavier-normal", "kaiming-uniform", "kaiming-normal", "lecun-normal",
         "orthogonal")


def init_weights(model: nn.Module, scheme: str) -> nn.Module:
    """Re-initialize every Linear and Conv weight with ``scheme`` and zero their biases (``"default"``: leave)."""
    if scheme not in INITS:
        raise ValueError(f"unknown initialization {scheme!r}; valid: {', '.join(INITS)}")
    if scheme == "default":
        return model
    init = nn.init
    fns = {
        "xavier-uniform": lambda w: init.xavier_uniform_(w),
        "xavier-normal": lambda w: init.xavier_normal_(w),
        "kaiming-uniform": lambda w: init.kaiming_uniform_(w, nonlinearity="relu"),
        "kaiming-normal": lambda w: init.kaiming_normal_(w, nonlinearity="relu"),
        "lecun-normal": lambda w: init.lecun_normal_(w),
        "orthogonal": lambda w: init.orthogonal_(w),
    }
    for m in model.modules():
        if isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d)):
            fns[scheme](m.weight)
            if getattr(m, "bias", None) is not None:
                init.zeros_(m.bias)
    return model


def count_parameters(model: Any) -> int:
    return int(sum(int(p.array.size) for p in model.parameters()))
