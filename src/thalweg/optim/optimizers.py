"""The optimizers PyTorch users know, each a chain of transforms behind the ``Optimizer`` front.

Names, argument names and defaults follow ``torch.optim`` (2.x), and each
matches torch's update step for step (the tests check 100 steps in float64).
Every class is only its chain; read the chain to see the algorithm:

=========  ==========================================================================================
SGD        add_l2 -> scale_by_momentum -> scale_by_learning_rate
Adam       add_l2 -> scale_by_adam -> scale_by_learning_rate
AdamW      scale_by_adam -> add_decayed_weights -> scale_by_learning_rate
Adagrad    add_l2 -> scale_by_adagrad -> scale_by_learning_rate
Adadelta   add_l2 -> scale_by_adadelta -> scale_by_learning_rate
RMSprop    add_l2 -> scale_by_rms -> scale_by_momentum -> scale_by_learning_rate
Adamax     add_l2 -> scale_by_adamax -> scale_by_learning_rate
NAdam      add_l2 -> scale_by_nadam -> scale_by_learning_rate   (or decoupled decay after it)
RAdam      add_l2 -> scale_by_radam -> scale_by_learning_rate   (or decoupled decay after it)
=========  ==========================================================================================

``maximize=True`` (keyword-only, as in torch) ascends instead of descending.
"""

from __future__ import annotations

from typing import Any

from .base import chain
from .optimizer import Optimizer
from .transforms import (add_decayed_weights, add_l2, scale_by_adadelta, scale_by_adagrad, scale_by_adam,
                         scale_by_adamax, scale_by_learning_rate, scale_by_momentum, scale_by_nadam, scale_by_radam,
                         scale_by_rms)

__all__ = ["Adadelta", "Adagrad", "Adam", "AdamW", "Adamax", "NAdam", "RAdam", "RMSprop", "SGD"]

Betas = tuple[float, float]



def _with_weight_decay(scale: Any, weight_decay: float, lr: float, decoupled: bool) -> Any:
    """``scale`` between its weight decay and the learning rate: L2 in the gradient before it (torch's
    default), or decoupled decay after it (AdamW's), which is the whole difference between the two."""
    if decoupled:
        return chain(scale, add_decayed_weights(weight_decay), scale_by_learning_rate(lr))
    return chain(add_l2(weight_decay), scale, scale_by_learning_rate(lr))

class SGD(Optimizer):
    """Stochastic gradient descent with optional (Nesterov) momentum and L2 weight decay.

    Update rule, per parameter ``theta`` with gradient ``g``::

        g <- g + weight_decay * theta
        b <- g on the first step, else momentum * b + (1 - dampening) * g
        d <- g + momentum * b   if nesterov   else   b         (d = g when momentum = 0)
        theta <- theta - lr * d

    Defaults (torch 2.x): ``lr=1e-3, momentum=0, dampening=0, weight_decay=0,
    nesterov=False``.  Papers: Robbins & Monro (1951); Polyak (1964) for
    momentum; Sutskever et al. (2013) for this form of Nesterov momentum.
    """

    def __init__(self, params: Any, lr: float = 1e-3, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False, *, maximize: bool = False) -> None:
        transform = chain(add_l2(weight_decay), scale_by_momentum(momentum, dampening, nesterov),
                          scale_by_learning_rate(lr))
        super().__init__(params, transform, {"maximize": maximize})


class Adam(Optimizer):
    """Adam: momentum on the gradient, RMS scaling per coordinate, both bias-corrected.

    Update rule::

        g <- g + weight_decay * theta                       (L2 in the gradient)
        m <- b1 m + (1 - b1) g,        v <- b2 v + (1 - b2) g^2
        m_hat = m / (1 - b1^t),        v_hat = v / (1 - b2^t)     (v_hat <- max so far, if amsgrad)
        theta <- theta - lr * m_hat / (sqrt(v_hat) + eps)

    Defaults: ``lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
    amsgrad=False``; ``decoupled_weight_decay=True`` makes it AdamW.  Papers:
    Kingma & Ba (2015); Reddi et al. (2018) for AMSGrad.  Note the lecture's
    warning: with Adam, L2 regularisation is *not* weight decay; use AdamW.
    """

    def __init__(self, params: Any, lr: float = 1e-3, betas: Betas = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, amsgrad: bool = False, *, maximize: bool = False,
                 decoupled_weight_decay: bool = False) -> None:
        transform = _with_weight_decay(scale_by_adam(betas, eps, amsgrad), weight_decay, lr, decoupled_weight_decay)
        super().__init__(params, transform, {"maximize": maximize})


class AdamW(Optimizer):
    """Adam with decoupled weight decay.

    Update rule::

        theta <- theta - lr * (m_hat / (sqrt(v_hat) + eps) + weight_decay * theta)

    i.e. the weights shrink by ``(1 - lr * weight_decay)`` each step, outside
    the adaptive scaling.  Defaults: ``lr=1e-3, betas=(0.9, 0.999), eps=1e-8,
    weight_decay=1e-2, amsgrad=False``.  Paper: Loshchilov & Hutter (2019),
    "Decoupled Weight Decay Regularization".  To exempt biases and norm
    layers: ``AdamW(optim.param_groups_no_decay(model, 0.05))``.
    """

    def __init__(self, params: Any, lr: float = 1e-3, betas: Betas = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False, *, maximize: bool = False) -> None:
        transform = chain(scale_by_adam(betas, eps, amsgrad), add_decayed_weights(weight_decay),
                          scale_by_learning_rate(lr))
        super().__init__(params, transform, {"maximize": maximize})


class Adagrad(Optimizer):
    """Adagrad: per-coordinate steps shrinking with the sum of past squared gradients.

    Update rule::

        g <- g + weight_decay * theta
        s <- s + g^2                                  (s starts at initial_accumulator_value)
        theta <- theta - lr / (1 + (t - 1) lr_decay) * g / (sqrt(s) + eps)

    Defaults: ``lr=1e-2, lr_decay=0, weight_decay=0,
    initial_accumulator_value=0, eps=1e-10``.  Paper: Duchi, Hazan & Singer (2011).
    Unlike torch, a parameter group's own ``initial_accumulator_value`` is
    honoured (torch fills every group with the constructor's value).
    """

    def __init__(self, params: Any, lr: float = 1e-2, lr_decay: float = 0.0, weight_decay: float = 0.0,
                 initial_accumulator_value: float = 0.0, eps: float = 1e-10, *, maximize: bool = False) -> None:
        transform = chain(add_l2(weight_decay), scale_by_adagrad(lr_decay, initial_accumulator_value, eps),
                          scale_by_learning_rate(lr))
        super().__init__(params, transform, {"maximize": maximize})


class Adadelta(Optimizer):
    """Adadelta: a window of squared gradients and of squared updates; nearly no learning rate.

    Update rule::

        g <- g + weight_decay * theta
        E[g^2] <- rho E[g^2] + (1 - rho) g^2
        d = sqrt(E[dx^2] + eps) / sqrt(E[g^2] + eps) * g
        E[dx^2] <- rho E[dx^2] + (1 - rho) d^2
        theta <- theta - lr * d

    Defaults: ``lr=1.0, rho=0.9, eps=1e-6, weight_decay=0``.  Paper: Zeiler (2012).
    """

    def __init__(self, params: Any, lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6,
                 weight_decay: float = 0.0, *, maximize: bool = False) -> None:
        transform = chain(add_l2(weight_decay), scale_by_adadelta(rho, eps), scale_by_learning_rate(lr))
        super().__init__(params, transform, {"maximize": maximize})


class RMSprop(Optimizer):
    """RMSprop: divide by a running RMS of the gradients (optionally centered), with optional momentum.

    Update rule::

        g <- g + weight_decay * theta
        v <- alpha v + (1 - alpha) g^2;   centered: m <- alpha m + (1 - alpha) g, v~ = v - m^2
        d = g / (sqrt(v or v~) + eps)
        b <- momentum * b + d  (b starts at d), d <- b         (when momentum > 0)
        theta <- theta - lr * d

    Defaults: ``lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0,
    centered=False``.  Sources: Hinton, Coursera lecture 6e (2012); Graves (2013)
    for the centered form.
    """

    def __init__(self, params: Any, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.0, centered: bool = False, *,
                 maximize: bool = False) -> None:
        transform = chain(add_l2(weight_decay), scale_by_rms(alpha, eps, centered),
                          scale_by_momentum(momentum, 0.0, False), scale_by_learning_rate(lr))
        super().__init__(params, transform, {"maximize": maximize})


class Adamax(Optimizer):
    """Adamax: Adam with an exponentially weighted infinity norm in the denominator.

    Update rule::

        g <- g + weight_decay * theta
        m <- b1 m + (1 - b1) g,     u <- max(b2 u, |g| + eps)
        theta <- theta - lr / (1 - b1^t) * m / u

    Defaults: ``lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0``.
    Paper: Kingma & Ba (2015), section 7.1.
    """

    def __init__(self, params: Any, lr: float = 2e-3, betas: Betas = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, *, maximize: bool = False) -> None:
        transform = chain(add_l2(weight_decay), scale_by_adamax(betas, eps), scale_by_learning_rate(lr))
        super().__init__(params, transform, {"maximize": maximize})


class NAdam(Optimizer):
    """NAdam: Adam with Nesterov momentum (and torch's warming-up momentum schedule).

    Update rule (see ``transforms.scale_by_nadam`` for ``mu_t``)::

        m, v as in Adam;  d = sqrt(v / (1 - b2^t)) + eps
        theta <- theta - lr * [(1 - mu_t)/(1 - prod mu) g + mu_{t+1}/(1 - prod mu * mu_{t+1}) m] / d

    Defaults: ``lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
    momentum_decay=4e-3, decoupled_weight_decay=False``.  Paper: Dozat (2016),
    "Incorporating Nesterov momentum into Adam".
    """

    def __init__(self, params: Any, lr: float = 2e-3, betas: Betas = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum_decay: float = 4e-3, decoupled_weight_decay: bool = False,
                 *, maximize: bool = False) -> None:
        transform = _with_weight_decay(scale_by_nadam(betas, eps, momentum_decay), weight_decay, lr,
                                       decoupled_weight_decay)
        super().__init__(params, transform, {"maximize": maximize})


class RAdam(Optimizer):
    """RAdam: rectified Adam (momentum SGD while the adaptive step's variance is intractable).

    Update rule (see ``transforms.scale_by_radam``)::

        theta <- theta - lr * m_hat * r_t * sqrt(1 - b2^t) / (sqrt(v) + eps)   if rho_t > 5
        theta <- theta - lr * m_hat                                            otherwise

    Defaults: ``lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
    decoupled_weight_decay=False``.  Paper: Liu et al. (2019), "On the variance
    of the adaptive learning rate and beyond".
    """

    def __init__(self, params: Any, lr: float = 1e-3, betas: Betas = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, decoupled_weight_decay: bool = False, *,
                 maximize: bool = False) -> None:
        radam = scale_by_radam(betas, eps)
        if decoupled_weight_decay:
            transform = chain(radam, add_decayed_weights(weight_decay), scale_by_learning_rate(lr))
        else:
            transform = chain(add_l2(weight_decay), radam, scale_by_learning_rate(lr))
        super().__init__(params, transform, {"maximize": maximize})
