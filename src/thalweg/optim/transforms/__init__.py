"""Gradient transformations (``tw.optim.transforms``): the links optimizers are chained from.

Each is a :class:`GradientTransformation` ``(init, update)`` pair on lists of
arrays; see :mod:`thalweg.optim.base` for the conventions.  Build your own
optimizer with :func:`chain` and :class:`thalweg.optim.Optimizer`::

    from thalweg.optim import Optimizer, transforms as T
    opt = Optimizer(model.parameters(), T.chain(
        T.clip_by_global_norm(1.0),
        T.add_gradient_noise(eta=0.3),
        T.scale_by_adam(),
        T.scale_by_learning_rate(1e-3),
    ))
"""

from ..base import GradientTransformation, PerParam, apply_updates, chain, identity
from .adam import scale_by_adam, scale_by_adamax, scale_by_nadam, scale_by_radam
from .adaptive import scale_by_adadelta, scale_by_adagrad, scale_by_rms
from .clipping import clip_by_global_norm, clip_by_value, global_norm
from .momentum import scale_by_momentum
from .noise import PAPER_ETAS, add_gradient_noise, noise_variance
from .scale import scale, scale_by_learning_rate
from .weight_decay import add_decayed_weights, add_l2

__all__ = [
    "GradientTransformation", "PAPER_ETAS", "PerParam", "add_decayed_weights", "add_gradient_noise", "add_l2",
    "apply_updates", "chain", "clip_by_global_norm", "clip_by_value", "global_norm", "identity", "noise_variance",
    "scale", "scale_by_adadelta", "scale_by_adagrad", "scale_by_adam", "scale_by_adamax",
    "scale_by_learning_rate", "scale_by_momentum", "scale_by_nadam", "scale_by_radam", "scale_by_rms",
]
