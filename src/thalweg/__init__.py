"""thalweg: a deep-learning framework on NumPy.

    import thalweg as tw
    x = tw.randn(4, 3, requires_grad=True)
    loss = (x @ x.T).relu().sum()
    loss.backward()          # x.grad now holds dloss/dx

A thalweg is the line water follows down a valley floor; this library is about
that descent.
"""

from . import allocator, autograd, distributions, dtypes, random
from .autograd import Function, Tensor, enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .autograd.tensor import device
from .dtypes import (bool_, double, float16, float32, float64, get_default_dtype, half, int8, int16, int32,
                     int64, long, set_default_dtype, uint8)
from .factories import (arange, as_tensor, empty, eye, from_numpy, full, full_like, linspace, ones, ones_like,
                        rand, rand_like, randint, randn, randn_like, randperm, tensor, zeros, zeros_like)
from .ops.api import (abs, add, allclose, amax, amin, argmax, argmin, broadcast_to, cat, chunk, clamp, clip,
                      concatenate, div, elu, eq, equal, exp, expand_dims, flatten, gather, ge, gelu, gt, isfinite,
                      isnan, le, leaky_relu, log, log_softmax, logsumexp, lt, masked_fill, matmul, max, maximum,
                      mean, min, minimum,
                      mul, ne, neg, norm, pad, permute, pow, prod, relu, repeat, reshape, sigmoid, sign, softmax,
                      softplus, split, sqrt, squeeze, stack, std, sub, sum, swapaxes, tanh, transpose, unsqueeze,
                      var, where)
from .random import Generator, get_rng_state, manual_seed, set_rng_state
from . import nn, optim  # noqa: E402,F401 - tw.nn, tw.optim, as torch.nn / torch.optim
from . import data, train  # noqa: E402,F401 - tw.data (datasets, loader), tw.train (the loop); after the core
from . import prune  # noqa: E402,F401 - tw.prune: magnitude pruning with fixed masks, sparse export
from . import rl  # noqa: E402,F401 - tw.rl: GAE, policies, TRPO/PPO steps, the policy-gradient trainer
from . import analysis, nli, recsys  # noqa: E402,F401 - sharpness/saliency, ESIM, GRU4Rec

float = float32  # noqa: A001 - torch's spelling: tw.float is float32
int = int32  # noqa: A001
bool = bool_  # noqa: A001

allocator.tune_allocator()  # keep freed array memory warm (THALWEG_MALLOC_TUNING=0 disables)

__version__ = "0.1.0"
_builtin_bool = type(True)


def is_tensor(x: object) -> _builtin_bool:
    """Whether ``x`` is a thalweg ``Tensor`` (torch's ``is_tensor``)."""
    return isinstance(x, Tensor)
