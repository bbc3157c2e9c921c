"""NumPy functions called on tensors: through the graph, or a clear error, never a silent drop.

``Tensor.__array_ufunc__`` and ``Tensor.__array_function__`` (NEP 13 and NEP 18)
send here every NumPy ufunc (``np.exp(t)``, ``arr * t``) and every NumPy
function (``np.concatenate([t, u])``) that gets a tensor.  The rules:

1. a ufunc or function that thalweg has as an op runs that op, so the result
   is a tensor in the graph (``np.exp(t)`` is ``tw.exp(t)``, ``np.stack`` is
   ``tw.stack``);
2. a function whose result has no gradient (``np.allclose``, ``np.argmax``,
   ``np.shape``, comparisons...) runs on the arrays;
3. anything else runs on the arrays too, as a plain NumPy call, *unless* a
   tensor argument requires grad while recording is on: then NumPy would drop
   it from the graph, and a ``TypeError`` names the function and says to use a
   thalweg op or ``.detach()``.

``np.asarray(t)`` and ``np.testing.assert_allclose(t, ...)`` use ``__array__``
and are not affected.
"""

from __future__ import annotations

import sys
from typing import Any, Callable

import numpy as np

from . import grad_mode

# NumPy ufunc name -> thalweg function name, where the two differ.  A ufunc whose
# own name is a thalweg function (exp, log, sqrt, tanh, sin, maximum...) needs no entry.
_UFUNC_NAMES = {
    "subtract": "sub", "multiply": "mul", "true_divide": "div", "divide": "div", "negative": "neg",
    "power": "pow", "absolute": "abs", "fabs": "abs", "arcsin": "asin", "arccos": "acos", "arctan": "atan",
    "arctan2": "atan2", "arcsinh": "asinh", "arccosh": "acosh", "arctanh": "atanh",
}

# Ufuncs whose result has no gradient: they always run on the arrays (the result is a tensor
# without a gradient, as thalweg's own comparisons give).
_NO_GRAD_UFUNCS = frozenset([
    "equal", "not_equal", "less", "less_equal", "greater", "greater_equal", "isnan", "isfinite", "isinf",
    "signbit", "logical_and", "logical_or", "logical_xor", "logical_not", "bitwise_and", "bitwise_or",
    "bitwise_xor", "invert", "left_shift", "right_shift",
])

# NumPy functions whose result has no gradient: always plain NumPy on the arrays.
_NO_GRAD_FUNCTIONS = frozenset([
    "allclose", "isclose", "array_equal", "array_equiv", "shape", "ndim", "size", "argmax", "argmin",
    "argsort", "argwhere", "nonzero", "flatnonzero", "count_nonzero", "all", "any", "result_type",
    "can_cast", "may_share_memory", "shares_memory", "iscomplexobj", "isrealobj", "searchsorted",
    "array_repr", "array_str", "array2string", "unique", "bincount", "histogram", "digitize", "isin",
    "round", "around", "copyto", "save", "savez", "savez_compressed",
])


def _api() -> Any:
    """The public namespace (``thalweg``), imported lazily: it imports this module."""
    return sys.modules["thalweg"]


def _tensor_type() -> type:
    from .tensor import Tensor

    return Tensor


def _walk(obj: Any, Tensor: type) -> Any:
    """Every tensor in ``obj`` (nested in lists, tuples and dicts)."""
    if isinstance(obj, Tensor):
        yield obj
    elif isinstance(obj, (list, tuple)):
        for o in obj:
            yield from _walk(o, Tensor)
    elif isinstance(obj, dict):
        for o in obj.values():
            yield from _walk(o, Tensor)


def _arrays(obj: Any, Tensor: type) -> Any:
    """``obj`` with every tensor replaced by its array."""
    if isinstance(obj, Tensor):
        return obj.array
    if isinstance(obj, (list, tuple)):
        return type(obj)(_arrays(o, Tensor) for o in obj) if type(obj) in (list, tuple) else obj
    if isinstance(obj, dict):
        return {k: _arrays(v, Tensor) for k, v in obj.items()}
    return obj


def _check_no_grad(name: str, thalweg_name: str | None, args: Any, kwargs: Any, Tensor: type) -> None:
    """Raise when NumPy would run on a tensor that requires grad while recording."""
    if not grad_mode.STATE.enabled:
        return
    if any(t._requires_grad for t in _walk((args, kwargs), Tensor)):
        hint = f"use tw.{thalweg_name}(...) with thalweg's arguments" if thalweg_name else "use a thalweg op"
        raise TypeError(
            f"np.{name}() got a tensor that requires grad; NumPy would drop it from the graph and its "
            f"gradient would be silently lost. {hint[0].upper() + hint[1:]}, or call .detach() (or .numpy()) "
            "first if no gradient is wanted"
        )


def _plain_numpy(call: Callable[..., Any], args: Any, kwargs: Any, Tensor: type) -> Any:
    """Run ``call`` on the arrays; a tensor given as ``out=`` is written in place (its version bumps)."""
    outs = kwargs.get("out")
    result = call(*_arrays(args, Tensor), **_arrays(kwargs, Tensor))
    if outs is not None:
        written = [o for o in (outs if isinstance(outs, tuple) else (outs,)) if isinstance(o, Tensor)]
        for o in written:
            o._bump_version()
        if written:
            return outs[0] if isinstance(outs, tuple) and len(outs) == 1 else outs
    return result


# ---------------------------------------------------------------- ufuncs
def array_ufunc(ufunc: Any, method: str, inputs: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``Tensor.__array_ufunc__``: see the module docstring."""
    Tensor = _tensor_type()
    name = ufunc.__name__
    if name in _NO_GRAD_UFUNCS and method == "__call__" and not kwargs:
        result = getattr(ufunc, method)(*_arrays(inputs, Tensor))
        return Tensor._wrap(np.asarray(result), False)
    fn = _thalweg_ufunc(name)
    if method == "__call__" and not kwargs and fn is not None:
        return fn(*inputs)
    if method == "__call__" and not kwargs and name == "positive":
        return inputs[0]
    label = name if method == "__call__" else f"{name}.{method}"
    _check_no_grad(label, getattr(fn, "__name__", None), inputs, kwargs, Tensor)
    if method == "at" and isinstance(inputs[0], Tensor):  # np.add.at(t, ...) writes into t
        getattr(ufunc, method)(*_arrays(inputs, Tensor), **_arrays(kwargs, Tensor))
        inputs[0]._bump_version()
        return None
    return _plain_numpy(getattr(ufunc, method), inputs, kwargs, Tensor)


def _thalweg_ufunc(name: str) -> Callable[..., Any] | None:
    api = _api()
    fn = getattr(api, _UFUNC_NAMES.get(name, name), None)
    if fn is None and name == "square":
        return lambda x: x * x
    if fn is None and name == "reciprocal":
        return lambda x: 1.0 / x
    return fn if callable(fn) and not isinstance(fn, type) else None


# ------------------------------------------------------------- functions
def _kw_free(kwargs: dict[str, Any], *allowed: str) -> bool:
    """Whether every keyword argument is one of ``allowed`` or left at NumPy's default (None)."""
    return all(k in allowed or v is None for k, v in kwargs.items())


def _reduction(tw_name: str) -> Callable[..., Any]:
    def run(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, keepdims: bool = False,
            **rest: Any) -> Any:
        if dtype is not None or out is not None or rest:
            return None
        return getattr(_api(), tw_name)(a, axis=axis, keepdims=bool(keepdims))

    return run


def _var_std(tw_name: str) -> Callable[..., Any]:
    def run(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, ddof: Any = 0,
            keepdims: bool = False, **rest: Any) -> Any:
        if dtype is not None or out is not None or rest:
            return None
        return getattr(_api(), tw_name)(a, axis=axis, keepdims=bool(keepdims), ddof=ddof)

    return run


def _extreme(tw_name: str) -> Callable[..., Any]:
    def run(a: Any, axis: Any = None, out: Any = None, keepdims: bool = False, **rest: Any) -> Any:
        if out is not None or rest:
            return None
        return getattr(_api(), tw_name)(a, axis=axis, keepdims=bool(keepdims))

    return run


def _join(tw_name: str) -> Callable[..., Any]:
    def run(arrays: Any, axis: Any = 0, out: Any = None, **rest: Any) -> Any:
        if axis is None or out is not None or not _kw_free(rest):
            return None
        return getattr(_api(), tw_name)(list(arrays), axis=axis)

    return run


def _reshape(a: Any, shape: Any = None, order: str = "C", **rest: Any) -> Any:
    shape = rest.pop("newshape", shape)
    if order != "C" or rest or shape is None:
        return None
    return _api().reshape(a, shape)


def _transpose(a: Any, axes: Any = None) -> Any:
    return _api().transpose(a) if axes is None else _api().permute(a, *axes)


def _where(condition: Any, *xy: Any) -> Any:
    return _api().where(condition, *xy) if len(xy) == 2 else None


def _clip(a: Any, a_min: Any = None, a_max: Any = None, out: Any = None, **rest: Any) -> Any:
    if out is not None or rest:
        return None
    return _api().clamp(a, a_min, a_max)


def _squeeze(a: Any, axis: Any = None) -> Any:
    return _api().squeeze(a, axis)


def _expand_dims(a: Any, axis: Any) -> Any:
    return _api().unsqueeze(a, axis) if isinstance(axis, int) else None


def _dot(a: Any, b: Any, out: Any = None) -> Any:
    """``np.dot`` of vectors and matrices is the matrix product (other ranks: rule 3)."""
    if out is not None or not (1 <= np.ndim(a) <= 2 and 1 <= np.ndim(b) <= 2):
        return None
    return _api().matmul(a, b)


# NumPy function name -> a runner that calls thalweg's op, or returns None when
# the call uses an argument thalweg's op does not have (then rule 3 applies).
_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "concatenate": _join("cat"), "stack": _join("stack"),
    "sum": _reduction("sum"), "mean": _reduction("mean"), "prod": _reduction("prod"),
    "max": _extreme("amax"), "amax": _extreme("amax"), "min": _extreme("amin"), "amin": _extreme("amin"),
    "var": _var_std("var"), "std": _var_std("std"),
    "reshape": _reshape, "transpose": _transpose, "where": _where, "clip": _clip,
    "squeeze": _squeeze, "expand_dims": _expand_dims, "dot": _dot,
}


def array_function(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``Tensor.__array_function__``: see the module docstring."""
    Tensor = _tensor_type()
    name = func.__name__
    if name not in _NO_GRAD_FUNCTIONS:
        runner = _FUNCTIONS.get(name)
        if runner is not None:
            result = runner(*args, **kwargs)
            if result is not None:
                return result
        _check_no_grad(name, {"concatenate": "cat"}.get(name, name) if runner else None, args, kwargs, Tensor)
    return _plain_numpy(func, args, kwargs, Tensor)
