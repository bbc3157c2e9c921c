"""``thalweg.analysis``: reusable tools that papers introduced to look at trained networks.

- ``sharpness``: the epsilon-sharpness of a minimizer (Keskar et al., 2017,
  arXiv:1609.04836): ``model_sharpness(model, x, y, epsilon=1e-3)`` for a
  network, ``epsilon_sharpness(fun, x)`` for any function with a gradient.
  The paper's maximiser, L-BFGS-B, comes from SciPy (an optional
  dependency); ``method="sign-ascent"`` runs without it.
- ``interpolation``: the loss and accuracy along the line between two
  solutions, ``f(alpha * x_end + (1 - alpha) * x_start)`` (Goodfellow et al., 2015).
- ``params``: a model's parameters as one flat vector and its mean loss as a
  function of that vector, with the gradient from the library's backward pass.
"""

from .interpolation import InterpolationCurve, interpolate, interpolated_state
from .params import LossFunction, flat_parameters, set_flat_parameters
from .sharpness import (METHODS, PAPER_EPSILONS, SharpnessResult, box_half_widths, epsilon_sharpness,
                        model_sharpness, random_subspace, scipy_available)
from .saliency import SaliencyResult, draw_saliency, saliency, variance_salience  # noqa: F401 - Li et al. 2016

__all__ = ["InterpolationCurve", "LossFunction", "METHODS", "PAPER_EPSILONS", "SharpnessResult", "box_half_widths",
           "epsilon_sharpness", "flat_parameters", "interpolate", "interpolated_state", "model_sharpness",
           "random_subspace", "scipy_available", "set_flat_parameters"]
