"""``GraphBuilder``: the nodes, constants and names of one ONNX graph, through the ``onnx`` package's helpers.

Nothing here writes protobuf by hand: every node is ``onnx.helper.make_node``,
every constant ``onnx.numpy_helper.from_array``.  The builder hands out
unique value names and keeps the list of initializers (the weights).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

__all__ = ["GraphBuilder", "UnsupportedOperatorError"]


class UnsupportedOperatorError(ValueError):
    """The model uses a layer or an operation that ``thalweg.onnx.export`` cannot convert."""


class GraphBuilder:
    """Collects ONNX nodes and initializers; ``dtype`` is the model's float type (constants are cast to it)."""

    def __init__(self, dtype: np.dtype, opset: int = 17) -> None:
        import onnx  # the optional dependency, imported when an export starts

        self.onnx = onnx
        self.helper = onnx.helper
        self.dtype = np.dtype(dtype)
        self.opset = int(opset)
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self._counts: dict[str, int] = {}

    def fresh(self, hint: str) -> str:
        """A new, unique value name such as ``linear_3``."""
        base = "".join(ch if ch.isalnum() or ch == "_" else "_" for ch in hint) or "v"
        k = self._counts.get(base, 0)
        self._counts[base] = k + 1
        return f"{base}_{k}"

    def const(self, value: Any, hint: str = "const", *, dtype: Any = None) -> str:
        """An initializer holding ``value`` (float arrays take the model's dtype unless ``dtype`` is given)."""
        arr = np.asarray(value)
        if dtype is not None:
            arr = arr.astype(dtype)
        elif arr.dtype.kind == "f":
            arr = arr.astype(self.dtype)
        name = self.fresh(hint)
        self.initializers.append(self.onnx.numpy_helper.from_array(np.ascontiguousarray(arr), name=name))
        return name

    def ints(self, values: Sequence[int], hint: str = "shape") -> str:
        """An int64 initializer, as ``Reshape``/``Slice``/``Unsqueeze`` take their shapes and axes."""
        return self.const(np.asarray(list(values), dtype=np.int64), hint, dtype=np.int64)

    def op(self, op_type: str, inputs: Sequence[str], *, outputs: int = 1, hint: str | None = None,
           **attrs: Any) -> Any:
        """Append one node; returns its output name (or a list of names when ``outputs > 1``)."""
        names = [self.fresh(hint or op_type.lower()) for _ in range(outputs)]
        self.nodes.append(self.helper.make_node(op_type, list(inputs), names, name=self.fresh(f"n_{op_type}"),
                                                **attrs))
        return names[0] if outputs == 1 else names

    def elem_type(self, dtype: Any) -> int:
        """The ONNX ``TensorProto`` element type of a NumPy dtype."""
        return self.helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
