"""``Module``: the base class of layers and models, as in PyTorch.

Assigning a ``Parameter`` or a ``Module`` as an attribute registers it, so
``parameters()``, ``state_dict()``, ``train()``/``eval()`` and ``zero_grad()``
walk the whole tree.  ``state_dict`` keys follow PyTorch's conventions
(``"0.weight"``, ``"encoder.layers.1.bias"``) and its values are plain NumPy
arrays, so weights move between the two frameworks as arrays.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Callable, Iterator, Mapping, NamedTuple

import numpy as np

from .. import dtypes
from ..autograd.tensor import Tensor
from .parameter import Parameter


class IncompatibleKeys(NamedTuple):
    """What ``load_state_dict`` returns: the keys it did not find and those it did not use."""

    missing_keys: list[str]
    unexpected_keys: list[str]


class RemovableHandle:
    """Returned by ``register_forward_hook``; ``handle.remove()`` unregisters the hook."""

    _next_id = 0

    def __init__(self, hooks: "OrderedDict[int, Any]") -> None:
        self.hooks = hooks
        self.id = RemovableHandle._next_id
        RemovableHandle._next_id += 1

    def remove(self) -> None:
        self.hooks.pop(self.id, None)

    def __enter__(self) -> "RemovableHandle":
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()


class Module:
    """Base class for all layers and models; subclasses define ``forward``."""

    training: bool

    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "_forward_hooks", OrderedDict())
        object.__setattr__(self, "_forward_pre_hooks", OrderedDict())
        object.__setattr__(self, "training", True)

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Restore a pickled module, filling in attributes that older pickles lack."""
        self.__dict__.update(state)
        for key in ("_forward_hooks", "_forward_pre_hooks"):
            self.__dict__.setdefault(key, OrderedDict())
        self.__dict__.setdefault("_non_persistent", set())

    def __dir__(self) -> list[str]:
        names = set(super().__dir__())
        names.update(self._parameters, self._buffers, self._modules)
        return sorted(n for n in names if not n[:1].isdigit())

    # ----------------------------------------------------------- registration
    def __setattr__(self, name: str, value: Any) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__}: call super().__init__() before assigning attributes")
        params, modules, buffers = self._parameters, self._modules, self._buffers
        if isinstance(value, Parameter):
            modules.pop(name, None)
            buffers.pop(name, None)
            self.__dict__.pop(name, None)
            params[name] = value
        elif isinstance(value, Module):
            params.pop(name, None)
            buffers.pop(name, None)
            self.__dict__.pop(name, None)
            modules[name] = value
        elif name in buffers:
            buffers[name] = value
        elif name in params:
            if value is not None:
                raise TypeError(f"cannot assign {type(value).__name__} to parameter '{name}' "
                                "(use nn.Parameter or None)")
            params[name] = None
        elif name in modules:
            if value is not None:
                raise TypeError(f"cannot assign {type(value).__name__} to submodule '{name}' (use a Module or None)")
            modules[name] = None
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name: str) -> Any:
        d = self.__dict__
        for key in ("_parameters", "_buffers", "_modules"):
            store = d.get(key)
            if store is not None and name in store:
                return store[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name: str) -> None:
        for key in ("_parameters", "_buffers", "_modules"):
            if name in self.__dict__[key]:
                del self.__dict__[key][name]
                return
        object.__delattr__(self, name)

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Register ``param`` (or ``None``, a declared but absent parameter such as ``bias=False``)."""
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"register_parameter: '{name}' must be a Parameter or None, got {type(param).__name__}")
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """Register state that is saved in ``state_dict`` but not trained (BatchNorm's running mean)."""
        self.__dict__.pop(name, None)
        self._buffers[name] = tensor
        if not persistent:
            self._non_persistent.add(name)

    def add_module(self, name: str, module: "Module | None") -> None:
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module: {name} must be a Module, got {type(module).__name__}")
        self._modules[name] = module

    register_module = add_module

    # -------------------------------------------------------------- traversal
    def named_modules(self, memo: set[int] | None = None, prefix: str = "") -> Iterator[tuple[str, "Module"]]:
        memo = set() if memo is None else memo
        if id(self) in memo:
            return
        memo.add(id(self))
        yield prefix, self
        for name, m in self._modules.items():
            if m is None:
                continue
            yield from m.named_modules(memo, f"{prefix}.{name}" if prefix else name)

    def modules(self) -> Iterator["Module"]:
        for _, m in self.named_modules():
            yield m

    def named_children(self) -> Iterator[tuple[str, "Module"]]:
        for name, m in self._modules.items():
            if m is not None:
                yield name, m

    def children(self) -> Iterator["Module"]:
        for _, m in self.named_children():
            yield m

    def named_parameters(self, prefix: str = "", recurse: bool = True) -> Iterator[tuple[str, Parameter]]:
        """``(name, parameter)`` pairs; a parameter shared by two modules is listed once."""
        seen: set[int] = set()
        mods = self.named_modules(prefix=prefix) if recurse else [(prefix, self)]
        for mprefix, m in mods:
            for name, p in m._parameters.items():
                if p is None or id(p) in seen:
                    continue
                seen.add(id(p))
                yield (f"{mprefix}.{name}" if mprefix else name), p

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True) -> Iterator[tuple[str, Tensor]]:
        mods = self.named_modules(prefix=prefix) if recurse else [(prefix, self)]
        for mprefix, m in mods:
            for name, b in m._buffers.items():
                if b is not None:
                    yield (f"{mprefix}.{name}" if mprefix else name), b

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    # -------------------------------------------------------------- behaviour
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} has no forward() method")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        d = self.__dict__
        pre, post = d.get("_forward_pre_hooks"), d.get("_forward_hooks")
        if not pre and not post:  # the fast path: no hooks registered
            return self.forward(*args, **kwargs)
        for hook in list(pre.values()) if pre else ():
            res = hook(self, args)
            if res is not None:
                args = res if isinstance(res, tuple) else (res,)
        out = self.forward(*args, **kwargs)
        for hook in list(post.values()) if post else ():
            res = hook(self, args, out)
            if res is not None:
                out = res
        return out

    def register_forward_hook(self, hook: Callable[..., Any]) -> RemovableHandle:
        """Call ``hook(module, args, output)`` after every forward; a non-None result replaces the output."""
        hooks = self.__dict__.setdefault("_forward_hooks", OrderedDict())
        handle = RemovableHandle(hooks)
        hooks[handle.id] = hook
        return handle

    def register_forward_pre_hook(self, hook: Callable[..., Any]) -> RemovableHandle:
        """Call ``hook(module, args)`` before every forward; a non-None result replaces the arguments."""
        hooks = self.__dict__.setdefault("_forward_pre_hooks", OrderedDict())
        handle = RemovableHandle(hooks)
        hooks[handle.id] = hook
        return handle

    def get_submodule(self, target: str) -> "Module":
        """The submodule at a dotted path such as ``"encoder.layers.0"`` ('' is the module itself)."""
        mod: Module = self
        if not target:
            return mod
        for item in target.split("."):
            sub = mod._modules.get(item)
            if sub is None:
                raise AttributeError(f"{type(mod).__name__} has no submodule {item!r} (looking up {target!r})")
            mod = sub
        return mod

    def train(self, mode: bool = True) -> "Module":
        """Training mode (dropout active, batch statistics used); returns self."""
        for m in self.modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self) -> "Module":
        """Evaluation mode: ``train(False)``."""
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> "Module":
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear the gradients of all parameters (to None, or to zeros in place)."""
        for p in self.parameters():
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad[...] = 0

    def apply(self, fn: Callable[["Module"], Any]) -> "Module":
        """Call ``fn`` on every submodule (children first) and on self, as torch does."""
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    def _cast(self, dtype: Any) -> "Module":
        d = dtypes.resolve(dtype)
        for m in self.modules():
            for p in m._parameters.values():
                if p is not None and p.array.dtype.kind == "f":
                    p.array = p.array.astype(d)
                    if p.grad is not None:
                        p.grad = p.grad.astype(d)
            for name, b in m._buffers.items():
                if b is not None and b.array.dtype.kind == "f":
                    b.array = b.array.astype(d)
        return self

    def float(self) -> "Module":
        return self._cast(dtypes.float32)

    def double(self) -> "Module":
        return self._cast(dtypes.float64)

    def half(self) -> "Module":
        return self._cast(dtypes.float16)

    def to(self, *args: Any, **kwargs: Any) -> "Module":
        """``.to("cpu")`` is a no-op; ``.to(tw.float64)`` casts parameters and buffers."""
        dtype = kwargs.get("dtype")
        for a in args:
            if isinstance(a, str) or type(a).__name__ == "device":
                from ..autograd.tensor import device

                if device(a).type != "cpu":
                    raise RuntimeError(f"to(): device {a!r} is not available; thalweg runs on the CPU here")
            else:
                dtype = a
        return self if dtype is None else self._cast(dtype)

    def cpu(self) -> "Module":
        return self

    # ------------------------------------------------------------ state dicts
    def state_dict(self, *args: Any, destination: Any = None, prefix: str = "",
                   keep_vars: bool = False) -> "OrderedDict[str, np.ndarray]":
        """Parameters and persistent buffers as ``{name: ndarray}`` (references, not copies).

        The keys and shapes are PyTorch's (``"0.weight"``, BatchNorm's
        ``running_mean``/``running_var``/``num_batches_tracked``).  With
        ``keep_vars=True`` the values are the tensors themselves.
        """
        if args:  # torch's old positional form state_dict(destination, prefix, keep_vars)
            destination = args[0]
            if len(args) > 1:
                prefix = args[1]
            if len(args) > 2:
                keep_vars = args[2]
        out: OrderedDict[str, Any] = OrderedDict() if destination is None else destination
        for mprefix, m in self.named_modules(prefix=prefix.rstrip(".")):
            for name, p in m._parameters.items():
                if p is not None:
                    out[f"{mprefix}.{name}" if mprefix else name] = p if keep_vars else p.array
            for name, b in m._buffers.items():
                if b is not None and name not in m._non_persistent:
                    out[f"{mprefix}.{name}" if mprefix else name] = b if keep_vars else b.array
        return out

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True) -> IncompatibleKeys:
        """Copy arrays into the parameters and buffers by name.

        Values may be ndarrays, thalweg tensors or anything ``np.asarray`` takes
        (a torch tensor's ``.detach().numpy()``).  Shape mismatches are always an
        error; with ``strict`` so are missing and unexpected keys.  The error lists
        every offending key.  Returns ``(missing_keys, unexpected_keys)`` (a named tuple, as torch).
        """
        own = self.state_dict()
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        arrays = {}
        mismatched = []
        for k, target in own.items():
            if k not in state_dict:
                continue
            v = state_dict[k]
            v = v.array if isinstance(v, Tensor) else v
            if hasattr(v, "detach") and hasattr(v, "numpy"):  # a torch tensor
                v = v.detach().cpu().numpy()
            arr = np.asarray(v)
            if arr.shape != target.shape:
                mismatched.append(f"{k}: expected {target.shape}, got {arr.shape}")
            arrays[k] = arr
        problems = []
        if mismatched:
            problems.append("size mismatch for " + "; ".join(mismatched))
        if strict and missing:
            problems.append("missing keys: " + ", ".join(missing))
        if strict and unexpected:
            problems.append("unexpected keys: " + ", ".join(unexpected))
        if problems:
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__}: " + " | ".join(problems))
        for mprefix, m in self.named_modules():
            for store in (m._parameters, m._buffers):
                for name, t in store.items():
                    key = f"{mprefix}.{name}" if mprefix else name
                    if t is not None and key in arrays:
                        t.array[...] = arrays[key].astype(t.array.dtype, copy=False)
                        t._bump_version()  # a saved copy of this tensor is now stale
        return IncompatibleKeys(missing, unexpected)

    # ------------------------------------------------------------------- repr
    def extra_repr(self) -> str:
        """One line of constructor arguments shown in ``repr`` (override in layers)."""
        return ""

    def __repr__(self) -> str:
        """torch's layout: ``Name(extra)`` for a leaf, one indented ``(name): child`` line per child otherwise."""
        extra = self.extra_repr()
        lines = extra.split("\n") if extra else []
        for name, m in self._modules.items():
            sub = repr(m).replace("\n", "\n  ")
            lines.append(f"({name}): {sub}")
        head = f"{type(self).__name__}("
        if not lines:
            return head + ")"
        if len(lines) == 1 and not self._modules:
            return head + lines[0] + ")"
        return head + "\n  " + "\n  ".join(lines) + "\n)"

    def num_parameters(self, trainable_only: bool = False) -> int:
        """Number of scalar parameters (optionally only those that require grad)."""
        return int(sum(p.array.size for p in self.parameters() if p.requires_grad or not trainable_only))
