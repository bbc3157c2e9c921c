"""``export``: trace one forward pass of a model and write it as an ONNX graph.

How the trace works.  The model runs once, in eval mode, on a copy of the
example input that requires a gradient, so every operation records its node
in the autograd graph (``t.grad_fn`` and its inputs: the lecture's expression
graph); for the length of that forward ``Function.apply`` also notes each
op's full argument list, so constants such as the ``2.0`` of ``x * 2.0``
become initializers.  Forward hooks on the layers that have a converter
(``modules.MODULE_CONVERTERS``) remember which tensors each layer returned.
The exporter then walks back from the outputs: a tensor a known layer
returned becomes that layer's ONNX nodes (built from the layer's attributes,
its internals are not visited); any other tensor is converted from the
operation that made it (``functions.FUNCTION_CONVERTERS``: reshapes, sums,
products...); the example input becomes the graph input, and parameters or
other constants become initializers.  Anything else stops the export with an
``UnsupportedOperatorError`` naming the layer or operation.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from ..autograd.tensor import Tensor
from ..fileio import atomic_write_bytes
from .builder import GraphBuilder, UnsupportedOperatorError
from .functions import FUNCTION_CONVERTERS
from .modules import MODULE_CONVERTERS, PASS_THROUGH, TAKES_KEYWORDS

__all__ = ["export"]


def _flatten_tensors(obj: Any) -> list[Any]:
    if isinstance(obj, Tensor):
        return [obj]
    if isinstance(obj, (tuple, list)):
        return [t for o in obj for t in _flatten_tensors(o)]
    return []


def _converter_for(module: Any) -> Any:
    for cls in type(module).__mro__:
        if cls in MODULE_CONVERTERS:
            return MODULE_CONVERTERS[cls]
    return None


class _Tracer:
    """Runs the forward with hooks; then turns tensors into ONNX names, memoized by tensor identity."""

    def __init__(self, builder: GraphBuilder, inputs: Sequence[Tensor], input_names: Sequence[str]) -> None:
        self.b = builder
        self.names: dict[int, str] = {id(t): n for t, n in zip(inputs, input_names)}
        self.made_by: dict[int, tuple[Any, list[Any], list[Any], dict[str, Any]]] = {}
        self.kwargs: dict[int, dict[str, Any]] = {}  # module -> the keywords of its latest call
        self.calls: dict[int, tuple[Any, ...]] = {}  # output tensor -> the positional arguments of its op
        self.keep: list[Any] = []  # every traced tensor stays alive, so no id() is reused during the export

    def hook(self, module: Any, args: tuple[Any, ...], output: Any) -> None:
        ins, outs = _flatten_tensors(args), _flatten_tensors(output)
        self.keep.append((ins, outs))
        kwargs = self.kwargs.pop(id(module), {})
        for t in outs:
            if not any(t is i for i in ins):
                self.made_by[id(t)] = (module, ins, outs, kwargs)  # the outermost known layer returns last

    def watch_keywords(self, module: Any) -> Any:
        """Wrap ``module.forward`` (on the instance) to note its keyword arguments; returns the undo."""
        forward = module.forward
        tracer = self

        def noted(*args: Any, **kwargs: Any) -> Any:
            tracer.kwargs[id(module)] = kwargs
            return forward(*args, **kwargs)

        object.__setattr__(module, "forward", noted)
        return lambda: module.__dict__.pop("forward", None)

    def name(self, t: Any) -> str:
        stack = [t]
        while stack:  # iterative, in dependency order: a deep model does not exhaust Python's recursion
            cur = stack[-1]
            if id(cur) in self.names:
                stack.pop()
                continue
            deps = self._deps(cur)
            todo = [d for d in deps if id(d) not in self.names]
            if todo:
                stack.extend(todo)
                continue
            stack.pop()
            self._emit(cur)
        return self.names[id(t)]

    def _deps(self, t: Any) -> list[Any]:
        rec = self.made_by.get(id(t))
        if rec is not None:
            return list(rec[1])
        ctx = t.grad_fn
        if ctx is None:
            return []
        args = self.calls.get(id(t), ctx.inputs)
        return [i for i in args if isinstance(i, Tensor)]

    def _emit(self, t: Any) -> None:
        rec = self.made_by.get(id(t))
        if rec is not None:
            module, ins, outs, kwargs = rec
            if kwargs and not isinstance(module, TAKES_KEYWORDS):
                raise UnsupportedOperatorError(f"{type(module).__name__} called with keyword arguments "
                                               f"({', '.join(kwargs)}): the export supports positional ones only")
            names = _converter_for(module)(self.b, module, [self.names[id(i)] for i in ins], ins, outs, kwargs)
            for o, n in zip(outs, names):
                self.names.setdefault(id(o), n)
            if id(t) not in self.names:
                raise UnsupportedOperatorError(
                    f"{type(module).__name__}: the model uses an output of it that the export does not produce")
            return
        ctx = t.grad_fn
        if ctx is None:  # a parameter or another constant
            self.names[id(t)] = self.b.const(np.asarray(t.array), "const")
            return
        conv = FUNCTION_CONVERTERS.get(ctx.fn)
        if conv is None:
            raise UnsupportedOperatorError(
                f"thalweg.onnx.export: no ONNX conversion for the operation {ctx.fn.__name__!r} used in the "
                f"forward; supported layers: {', '.join(sorted(c.__name__ for c in MODULE_CONVERTERS))}; "
                f"supported operations between layers: {', '.join(sorted(c.__name__ for c in FUNCTION_CONVERTERS))}")
        args = self.calls.get(id(t))
        if args is None:
            in_names = [self.names[id(i)] if isinstance(i, Tensor) else None for i in ctx.inputs]
        else:  # numbers and arrays the op got (x * 2.0) become constants of the output's dtype
            in_names = [self.names[id(a)] if isinstance(a, Tensor) else
                        self.b.const(np.asarray(a, dtype=t.array.dtype), "scalar", dtype=t.array.dtype)
                        if isinstance(a, (int, float, np.ndarray, np.generic)) and not isinstance(a, bool) else None
                        for a in args]
        self.names[id(t)] = conv(self.b, ctx, in_names, t)

    def record_calls(self) -> Any:
        """Patch ``Function.apply`` for the length of the forward, to see every op's arguments (constants too)."""
        from ..autograd.function import Function

        original = Function.__dict__["apply"]
        tracer = self

        def apply(cls: Any, *args: Any, **kwargs: Any) -> Any:
            out = original.__func__(cls, *args, **kwargs)
            if isinstance(out, Tensor) and out.grad_fn is not None:
                tracer.calls[id(out)] = args
                tracer.keep.append((out, args))
            return out

        Function.apply = classmethod(apply)  # type: ignore[method-assign]

        def restore() -> None:
            Function.apply = original  # type: ignore[method-assign]
        return restore


def _axes(spec: Any, name: str) -> dict[int, str]:
    if spec is None:
        return {}
    if isinstance(spec, Mapping):
        return {int(k): str(v) for k, v in spec.items()}
    return {int(k): f"{name}_dim{int(k)}" for k in spec}


def export(model: Any, example_input: Any, path: str | os.PathLike[str], *, input_names: Sequence[str] | None = None,
           output_names: Sequence[str] | None = None, dynamic_axes: Mapping[str, Any] | None = None,
           opset_version: int = 17) -> Path:
    """Write ``model`` as an ONNX file at ``path`` (atomically); returns the path.

    ``example_input``: a tensor (or array), or a tuple of the model's positional
    arguments (which may nest: ``(x, (h0, c0))``); each tensor is one graph input.
    ``input_names``/``output_names`` default to ``input``/``output``
    (``input_0``... with several).  ``dynamic_axes`` follows torch:
    ``{"input": {0: "batch"}, "output": {0: "batch"}}`` (or ``{"input": [0]}``)
    leaves those dimensions free in the graph.  The model is traced in eval
    mode (dropout off, batch norm on its running statistics) and left in the
    mode it was in.  Layers: Linear, Conv1d/2d, max/average/adaptive average
    pooling, BatchNorm, LayerNorm, the activations, Dropout, Flatten/Unflatten,
    Embedding, RNN/LSTM/GRU, MultiheadAttention (2-D ``attn_mask``) and the Transformer
    layers built from them; between layers: reshape/view, permute/transpose,
    + - * /, matmul, cat, sum/mean, softmax/log_softmax, relu/sigmoid/tanh/exp/log.  Anything else raises
    ``UnsupportedOperatorError`` naming it.
    """
    try:
        import onnx
    except ImportError:
        raise ImportError("thalweg.onnx.export needs the onnx package: pip install 'thalweg[onnx]'") from None
    from ..autograd.grad_mode import enable_grad

    traced_inputs: list[Tensor] = []

    def fresh_copy(e: Any) -> Any:  # the same nesting as given, every tensor a traced copy
        if isinstance(e, (tuple, list)):
            return type(e)(fresh_copy(i) for i in e)
        if e is None:
            return None
        arr = np.array(e.array if isinstance(e, Tensor) else e, copy=True)
        t = Tensor(arr, requires_grad=arr.dtype.kind == "f")
        traced_inputs.append(t)
        return t

    args = tuple(fresh_copy(a) for a in (example_input if isinstance(example_input, tuple) else (example_input,)))
    examples = traced_inputs
    in_names = list(input_names) if input_names is not None else (
        ["input"] if len(examples) == 1 else [f"input_{i}" for i in range(len(examples))])
    if len(in_names) != len(examples):
        raise ValueError(f"input_names has {len(in_names)} names for {len(examples)} inputs")
    params = list(model.parameters()) if hasattr(model, "parameters") else []
    dtype = params[0].array.dtype if params else np.dtype(np.float32)
    b = GraphBuilder(dtype, opset_version)
    tracer = _Tracer(b, traced_inputs, in_names)
    handles: list[Any] = []
    undo: list[Any] = []
    was_training = getattr(model, "training", False)
    modules = list(model.modules()) if hasattr(model, "modules") else []
    for m in modules:
        if _converter_for(m) is not None and not isinstance(m, PASS_THROUGH):
            handles.append(m.register_forward_hook(tracer.hook))
            undo.append(tracer.watch_keywords(m))
    restore = tracer.record_calls()
    try:
        if hasattr(model, "eval"):
            model.eval()
        with enable_grad():
            output = model(*args)
    finally:
        restore()
        for h in handles:
            h.remove()
        for u in undo:
            u()
        if hasattr(model, "train"):
            model.train(was_training)
    outs = _flatten_tensors(output)
    if not outs:
        raise ValueError("thalweg.onnx.export: the model returned no tensor")
    out_names = list(output_names) if output_names is not None else (
        ["output"] if len(outs) == 1 else [f"output_{i}" for i in range(len(outs))])
    if len(out_names) != len(outs):
        raise ValueError(f"output_names has {len(out_names)} names for the model's {len(outs)} outputs")
    for t, n in zip(outs, out_names):  # each output under its requested name
        b.nodes.append(onnx.helper.make_node("Identity", [tracer.name(t)], [n], name=b.fresh(f"n_output_{n}")))
    dyn = dynamic_axes or {}
    unknown = set(dyn) - set(in_names) - set(out_names)
    if unknown:
        raise ValueError(f"dynamic_axes names {', '.join(sorted(unknown))}, which are not input or output names "
                         f"({', '.join(in_names + out_names)})")

    def info(name: str, t: Tensor) -> Any:
        axes = _axes(dyn.get(name), name)
        shape = [axes.get(i, d) for i, d in enumerate(t.shape)]
        return onnx.helper.make_tensor_value_info(name, b.elem_type(t.array.dtype), shape)

    graph = onnx.helper.make_graph(b.nodes, type(model).__name__,
                                   [info(n, t) for n, t in zip(in_names, traced_inputs)],
                                   [info(n, t) for n, t in zip(out_names, outs)], initializer=b.initializers)
    proto = onnx.helper.make_model(graph, producer_name="thalweg",
                                   opset_imports=[onnx.helper.make_opsetid("", int(opset_version))])
    proto.ir_version = min(proto.ir_version, 10)  # readable by current onnxruntime releases
    onnx.checker.check_model(proto)
    return atomic_write_bytes(Path(path), proto.SerializeToString())
