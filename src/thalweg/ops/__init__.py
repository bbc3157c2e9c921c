"""Differentiable operations, one module per family.

Each op is a :class:`~thalweg.autograd.Function` with ``forward`` and
``backward`` side by side.  Backward rules return gradients of the broadcast
shape; the engine sums them down to each input's shape.
"""
