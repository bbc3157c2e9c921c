"""Differentiable backward rules, one module per op family (see ``autograd/higher_order.py``).

Importing this package registers every rule.  A rule ``rule(ctx, grad)``
receives a graph node and the gradient of its output as a tensor, and returns
one gradient tensor (or ``None``) per positional input, computed with thalweg
ops so that the result can be differentiated again.
"""

from . import (activation, attention, conv_pool, elementwise, extras, indexing, loss, math_ops,  # noqa: F401
               nn_layers, recurrent, reduce, shape)
