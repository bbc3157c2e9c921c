"""thalweg: a deep-learning framework on NumPy.

    import thalweg as tw
    x = tw.randn(4, 3, requires_grad=True)
    loss = (x @ x.T).relu().sum()
    loss.backward()          # x.grad now holds dloss/dx

A thalweg is the line water follows down a valley floor; this library is about
that descent.

Where to look next (each has its own ``help()``):

* ``thalweg.nn``: layers and ``Module`` (``nn.Linear``, ``nn.Conv2d``, ``nn.LSTM``...), ``nn.functional``
* ``thalweg.optim``: optimizers (``optim.SGD``, ``optim.Adam``...) and ``optim.lr_scheduler``
* ``thalweg.data``: datasets, ``DataLoader``, MNIST and the bundled 8x8 digits
* ``thalweg.train``: ``fit`` (the training loop), callbacks (TensorBoard, MLflow), ``load_run``
* ``thalweg.utils.tensorboard``: ``SummaryWriter``; ``thalweg.onnx``: ``export``
* the command line: ``thalweg train``, ``thalweg predict``, ``thalweg compare``, ``thalweg lr-find``,
  ``thalweg report`` (``thalweg --help``; ``thalweg.cli``)
"""

from . import allocator, autograd, dtypes, random
from .autograd import Function, Tensor, enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .autograd.grad_mode import inference_mode, is_inference_mode_enabled
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
from .random import Generator, get_rng_state, initial_seed, manual_seed, set_rng_state
# torch's wider op surface (issue 17): elementwise math, scans, sorting, scatter/index ops, structure, einsum
from .ops.math_api import (acos, acosh, addcdiv, addcmul, all, any, arccos, arccosh, arcsin, arcsinh,  # noqa: A004
                           arctan, arctan2, arctanh, asin, asinh, atan, atan2, atanh, bitwise_and,
                           bitwise_left_shift, bitwise_not, bitwise_or, bitwise_right_shift, bitwise_xor, ceil,
                           clamp_max, clamp_min, copysign, cos, cosh, count_nonzero, deg2rad, digamma, erf, erfc,
                           erfinv, exp2, expm1, fix, float_power, floor, floor_divide, fmod, frac, hypot, isclose,
                           isinf, isneginf, isposinf, isreal, lerp, lgamma, log1p, log2, log10, logaddexp,
                           logical_and, logical_not, logical_or, logical_xor, logit, nan_to_num, positive, rad2deg,
                           reciprocal, remainder, round, rsqrt, signbit, sin, sinc, sinh, square, tan, trunc, xlogy)
from .ops.scan import cummax, cummin, cumprod, cumsum, logcumsumexp
from .ops.sorting import argsort, kthvalue, median, mode, msort, nanmedian, sort, topk
from .ops.indexing import (argwhere, index_add, index_copy, index_fill, index_select, masked_scatter, masked_select,
                           nonzero, scatter, scatter_add, scatter_reduce, take_along_dim)
from .ops.structure import (addmm, bmm, diag, diag_embed, diagonal, dot, flip, fliplr, flipud, ger, mm, movedim,
                            moveaxis, mv, narrow, outer, repeat_interleave, roll, select, tile, trace, tril, triu,
                            unbind)
from .ops.einsum import einsum
from .ops.extras import (absolute, atleast_1d, atleast_2d, bincount, broadcast_shapes, broadcast_tensors,
                         bucketize, cdist, clone, column_stack, concat, cross, diff, divide, dstack, fmax, fmin,
                         heaviside, hstack, inner, isin, logaddexp2, meshgrid, multiply, nanmean, nansum, negative,
                         numel, ravel, rot90, row_stack, searchsorted, sgn, subtract, swapdims, t, take, tensordot,
                         tril_indices, triu_indices, true_divide, unflatten, unique, unique_consecutive, vdot, vstack)
from .ops import methods as _methods  # noqa: F401 - binds the Tensor methods of the ops above
from .factories import (asarray, bernoulli, empty_like, logspace, multinomial, normal, poisson,  # noqa: E402
                        randint_like)
from .typed_tensors import (BoolTensor, ByteTensor, CharTensor, DoubleTensor, FloatTensor, HalfTensor, IntTensor,
                            LongTensor, ShortTensor, Size)
from .dtypes import short  # noqa: E402
from . import accelerator, backends, cuda  # noqa: E402,F401 - tw.cuda.is_available() is False

# ``import thalweg`` loads the tensor, autograd and the ops (about 50 modules); every package above them
# is imported on first use (PEP 562), so ``tw.nn.Linear``, ``tw.optim.SGD``, ``tw.train.fit`` and
# ``from thalweg.data import DataLoader`` work as before and a user pays only for what they touch.
# The paper reproductions and their domain models live beside the core, in ``thalweg_lab``.
from ._lazy import lazy_names  # noqa: E402

__getattr__, __dir__ = lazy_names(__name__, {
    **dict.fromkeys(("nn", "optim", "data", "train", "distributions", "distributed", "serialization", "sparse",
                     "prune", "analysis", "onnx", "utils"), "."),
    "sparse_coo_tensor": ".sparse", "spmm": ".sparse",
    "set_num_threads": ".threads", "get_num_threads": ".threads"})


def save(obj: object, f: object, *args: object, **kwargs: object) -> None:
    """``torch.save``: write tensors, state dicts and plain containers (never pickle); see ``thalweg.serialization``."""
    from .serialization import save as _save

    _save(obj, f, *args, **kwargs)


def load(f: object, *args: object, **kwargs: object) -> object:
    """``torch.load``: read what ``save`` wrote, safetensors, or a PyTorch checkpoint; see ``thalweg.serialization``."""
    from .serialization import load as _load

    return _load(f, *args, **kwargs)

float = float32  # noqa: A001 - torch's spelling: tw.float is float32
int = int32  # noqa: A001
bool = bool_  # noqa: A001

allocator.tune_allocator()  # keep freed array memory warm (THALWEG_MALLOC_TUNING=0 disables)

__version__ = "0.1.0"
_builtin_bool = type(True)


def is_tensor(x: object) -> _builtin_bool:
    """Whether ``x`` is a thalweg ``Tensor`` (torch's ``is_tensor``)."""
    return isinstance(x, Tensor)
