"""Operation converters: the tensor operations written between layers in a ``forward`` (``x.view``, ``+``, ``relu``).

A converter is ``convert(b, ctx, inputs, out) -> name``: ``ctx`` is the graph
node the operation recorded (``ctx.fn`` its ``Function``, ``ctx.inputs`` its
tensor arguments), ``inputs`` the ONNX names of those arguments (``None`` for a
non-tensor argument) and ``out`` the tensor it produced.  Shapes come from the
traced tensors; a reshape keeps the batch dimension free (``-1``) so that an
export with a dynamic batch axis still runs on other batch sizes.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, Callable

import numpy as np

from ..ops import activation as A
from ..ops import elementwise as E
from ..ops import linalg as L
from ..ops import nn_ops as N
from ..ops import reduce as R
from ..ops import shape as S
from .builder import GraphBuilder, UnsupportedOperatorError
from .modules import activation_converter

__all__ = ["FUNCTION_CONVERTERS"]

FnConverter = Callable[[GraphBuilder, Any, list[Any], Any], str]


def _need(names: list[Any], ctx: Any) -> list[str]:
    if any(n is None for n in names):
        raise UnsupportedOperatorError(
            f"the operation {ctx.fn.__name__} has a Python number operand (such as x * 2.0), which the trace does "
            "not record; use a tensor constant (tw.tensor(2.0)) or a layer")
    return names


def _binary(op_type: str) -> FnConverter:
    def convert(b: GraphBuilder, ctx: Any, x: list[Any], out: Any) -> str:
        return b.op(op_type, _need(x, ctx)[:2], hint=op_type.lower())
    return convert


def _unary(op_type: str) -> FnConverter:
    def convert(b: GraphBuilder, ctx: Any, x: list[Any], out: Any) -> str:
        return b.op(op_type, _need(x, ctx)[:1], hint=op_type.lower())
    return convert


def _reshape(b: GraphBuilder, ctx: Any, x: list[Any], out: Any) -> str:
    src = ctx.inputs[0]
    shape = list(out.shape)
    if src.ndim and shape and shape[0] == src.shape[0] and src.shape[0] != 0:
        shape[0] = -1 if int(np.prod(shape[1:])) else 0  # keep the batch free
    return b.op("Reshape", [_need(x, ctx)[0], b.ints(shape)], hint="reshape")


def _transpose(b: GraphBuilder, ctx: Any, x: list[Any], out: Any) -> str:
    nd = out.ndim
    return b.op("Transpose", [_need(x, ctx)[0]], perm=[int(a) % nd for a in ctx.axes])


def _identity(b: GraphBuilder, ctx: Any, x: list[Any], out: Any) -> str:
    return b.op("Identity", _need(x, ctx)[:1])


def _linear(b: GraphBuilder, ctx: Any, x: list[Any], out: Any) -> str:
    names = _need([n for n in x if n is not None], ctx)
    y = b.op("MatMul", [names[0], b.op("Transpose", [names[1]], perm=[1, 0])], hint="linear")
    return b.op("Add", [y, names[2]]) if len(names) > 2 else y


def _softmax(op_type: str) -> FnConverter:
    def convert(b: GraphBuilder, ctx: Any, x: list[Any], out: Any) -> str:
        if ctx.axis is None:
            raise UnsupportedOperatorError(f"{ctx.fn.__name__} of a 0-d tensor does not export")
        return b.op(op_type, _need(x, ctx)[:1], axis=int(ctx.axis))
    return convert


def _reduce(op_type: str) -> FnConverter:
    """ReduceSum takes its axes as an input (opset 13+), ReduceMean from opset 18 (an attribute before)."""
    def convert(b: GraphBuilder, ctx: Any, x: list[Any], out: Any) -> str:
        axes = [int(a) for a in ctx.axes]
        keep = int(bool(ctx.keepdims))
        if op_type == "ReduceSum" or b.opset >= 18:
            return b.op(op_type, [_need(x, ctx)[0], b.ints(axes, "axes")], keepdims=keep)
        return b.op(op_type, [_need(x, ctx)[0]], axes=axes, keepdims=keep)
    return convert


def _concat(b: GraphBuilder, ctx: Any, x: list[Any], out: Any) -> str:
    if getattr(ctx, "skipped", None) is not None:
        raise UnsupportedOperatorError("cat with empty 1-d tensors does not export")
    return b.op("Concat", _need(x, ctx), axis=int(ctx.axis) % out.ndim)


def _activation(kind: str, **attrs: str) -> FnConverter:
    """``F.gelu(x)``, ``F.elu(x, alpha)``...: the layer's converter, with the options the op kept on its node."""
    def convert(b: GraphBuilder, ctx: Any, x: list[Any], out: Any) -> str:
        options = SimpleNamespace(**{k: getattr(ctx, v) for k, v in attrs.items()}, threshold=None)
        return activation_converter(kind)(b, options, _need(x, ctx)[:1])[0]
    return convert


FUNCTION_CONVERTERS: dict[type, FnConverter] = {
    S.Reshape: _reshape, S.Transpose: _transpose,
    E.Add: _binary("Add"), E.Sub: _binary("Sub"), E.Mul: _binary("Mul"), E.Div: _binary("Div"),
    E.Maximum: _binary("Max"), E.Minimum: _binary("Min"),
    E.Pow: _binary("Pow"), E.Neg: _unary("Neg"), E.Exp: _unary("Exp"), E.Log: _unary("Log"), E.Sqrt: _unary("Sqrt"),
    E.Abs: _unary("Abs"), E.Clone: _identity,
    A.ReLU: _unary("Relu"), A.Sigmoid: _unary("Sigmoid"), A.Tanh: _unary("Tanh"),
    L.MatMul: _binary("MatMul"),
    A.GELU: _activation("GELU", approximate="approximate"), A.ELU: _activation("ELU", alpha="alpha"),
    A.LeakyReLU: _activation("LeakyReLU", negative_slope="slope"), A.Softplus: _activation("Softplus", beta="beta"),
    A.Softmax: _softmax("Softmax"), A.LogSoftmax: _softmax("LogSoftmax"),
    R.Sum: _reduce("ReduceSum"), R.Mean: _reduce("ReduceMean"), S.Concatenate: _concat,
    N.LinearFunction: _linear,
}
