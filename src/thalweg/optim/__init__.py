"""Optimizers, schedules and gradient tools (``tw.optim``).

* :mod:`~thalweg.optim.transforms`: small gradient transformations that chain
  (``scale_by_adam``, ``add_decayed_weights``, ``clip_by_global_norm``,
  ``add_gradient_noise``, ``scale_by_learning_rate``, ``chain``...).
* :class:`Optimizer`: torch.optim's front over any chain (param groups,
  ``zero_grad``, ``step(closure)``, ``state_dict`` keyed by parameter name).
* ``SGD``, ``Adam``, ``AdamW``, ``Adagrad``, ``Adadelta``, ``RMSprop``,
  ``Adamax``, ``NAdam``, ``RAdam``: torch's names, arguments and defaults.
* :mod:`~thalweg.optim.lr_scheduler`: schedules as pure functions of the step.
* :func:`lr_range_test`: the CLR paper's range test for ``base_lr``/``max_lr``.
* :func:`clip_grad_norm_`, :func:`clip_grad_value_`.
* :func:`param_groups_no_decay`: no weight decay on biases and norm layers, in one line::

      opt = optim.AdamW(optim.param_groups_no_decay(model, weight_decay=0.05), lr=1e-3)
"""

from . import lr_scheduler, transforms
from .base import GradientTransformation, chain
from .clip import clip_grad_norm_, clip_grad_value_
from .optimizer import Optimizer, default_decay_mask, param_groups_no_decay
from .optimizers import SGD, Adadelta, Adagrad, Adam, Adamax, AdamW, NAdam, RAdam, RMSprop
from .._lazy import lazy_names

# Imported on first use (PEP 562): the range test (it runs the training loop), L-BFGS and the line searches.
__getattr__, __dir__ = lazy_names(__name__, {
    "LRRangeTestResult": ".range_test", "lr_range_test": ".range_test", "range_test": ".", "LBFGS": ".lbfgs",
    "lbfgs": ".", "line_search": ".", "GradientDescentLineSearch": ".line_search",
    "backtracking_line_search": ".line_search", "registry": "."})

__all__ = ["Adadelta", "Adagrad", "Adam", "AdamW", "Adamax", "GradientDescentLineSearch", "GradientTransformation",
           "LBFGS", "LRRangeTestResult", "NAdam", "Optimizer", "RAdam", "RMSprop", "SGD", "backtracking_line_search",
           "chain", "clip_grad_norm_", "clip_grad_value_", "default_decay_mask", "line_search", "lr_range_test",
           "lr_scheduler", "param_groups_no_decay", "transforms"]
