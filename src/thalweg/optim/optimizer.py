"""``Optimizer``: torch.optim's front over a chain of gradient transformations.

The front knows about ``Tensor`` parameters, ``.grad`` and parameter groups;
the chain (``optim.transforms``) knows only about arrays.  ``step()`` does::

    for each group:
        u = copy of the gradients            (p.grad is never modified)
        u, state = chain.update(u, state, params, hyper=group)
        p.array += u                          (in place)

or, when the chain is only a multiplication ``u <- c u`` for this group's
hyperparameters (plain SGD: ``c = -lr``), ``p.array += c * p.grad`` in one
pass (``base.constant_factor``).

so every hyperparameter a link reads comes from the group at that moment:
``param_groups[i]["lr"] = 0.01`` (or a scheduler) takes effect on the next
step.  ``state_dict()`` is plain arrays and numbers keyed by parameter *name*
when the optimizer was given names (``model.named_parameters()``), and
``load_state_dict`` checks names and shapes, with an error that says which
parameter and which entry do not fit.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np

from ..autograd.grad_mode import enable_grad
from ..autograd.tensor import Tensor
from ..backend import get_array_module
from ._validation import check_hyperparams
from ..ops import kernels
from .base import GradientTransformation, PerParam, constant_factor

__all__ = ["Optimizer", "default_decay_mask", "param_groups_no_decay"]

_RESERVED = ("params", "param_names", "transform_state")


class Optimizer:
    """An optimizer built from any chain of transforms.

    Args:
        params: an iterable of parameters, of ``(name, parameter)`` pairs
            (``model.named_parameters()``), or of parameter-group dicts
            ``{"params": [...], "lr": 0.1, ...}`` whose extra keys override the
            defaults for that group.  A ``Module`` is taken as its named
            parameters.
        transform: a :class:`~thalweg.optim.transforms.GradientTransformation`,
            usually a ``chain(...)`` ending in ``scale_by_learning_rate``.
        defaults: extra group options; the transform's own hyperparameters
            (``transform.hyperparams``) are always defaults.

    Example::

        opt = optim.Optimizer(model.named_parameters(), T.chain(T.scale_by_adam(), T.scale_by_learning_rate(1e-3)))
        opt.zero_grad(); loss.backward(); opt.step()
        opt.param_groups[0]["lr"] *= 0.1
    """

    def __init__(self, params: Any, transform: GradientTransformation,
                 defaults: Mapping[str, Any] | None = None) -> None:
        if not isinstance(transform, GradientTransformation):
            raise TypeError(f"{type(self).__name__}: transform must be a GradientTransformation, "
                            f"got {type(transform).__name__}")
        self.transform = transform
        self.defaults: dict[str, Any] = {**transform.hyperparams, **(dict(defaults) if defaults else {})}
        check_hyperparams(self.defaults)
        self.param_groups: list[dict[str, Any]] = []
        self._states: list[Any] = []
        self._scratch: list[list[Any]] = []
        self._sizes: list[int] = []
        self._named: bool | None = None
        groups = _as_groups(params)
        if not groups:
            raise ValueError("optimizer got an empty parameter list")
        for group in groups:
            self.add_param_group(group)

    # ----------------------------------------------------------------- groups
    def add_param_group(self, param_group: Mapping[str, Any]) -> None:
        """Add a group of parameters with its own options (e.g. a new layer to fine-tune)."""
        if not isinstance(param_group, Mapping) or "params" not in param_group:
            raise TypeError(f"{type(self).__name__}.add_param_group: expected a dict with a 'params' key, "
                            f"got {type(param_group).__name__}")
        tensors, names = _split_named(param_group["params"])
        if names is not None and "param_names" in param_group:
            raise ValueError("add_param_group: give names either as (name, param) pairs or as 'param_names', not both")
        if names is None and "param_names" in param_group:
            names = [str(n) for n in param_group["param_names"]]
            if len(names) != len(tensors):
                raise ValueError(f"add_param_group: {len(names)} param_names for {len(tensors)} parameters")
        if not tensors and self._named is not None:  # an empty group takes the optimizer's convention
            names = [] if self._named else None
        named = names is not None
        if self._named is not None and named != self._named:
            raise ValueError("all parameter groups must be named (named_parameters()) or all unnamed")
        offset = len(self._all_params())
        labels = [f"'{n}'" for n in names] if named else [f"#{offset + i}" for i in range(len(tensors))]
        seen_here: set[int] = set()
        for t, label in zip(tensors, labels):
            _check_param(t, label)
            if id(t) in seen_here:
                raise ValueError(f"parameter {label} appears twice in one parameter group")
            seen_here.add(id(t))
        existing = {id(p) for p in self._all_params()}
        for t, label in zip(tensors, labels):
            if id(t) in existing:
                raise ValueError(f"some parameters appear in more than one parameter group: {label}")
        options = {k: v for k, v in param_group.items() if k not in _RESERVED}
        for key, value in self.defaults.items():
            options.setdefault(key, value)
        check_hyperparams(options)
        group: dict[str, Any] = {"params": tensors, **options}
        if named:
            group["param_names"] = names
        if self._named is None:
            self._named = named
        self.param_groups.append(group)
        self._states.append(self.transform.init([t.array for t in tensors]))
        self._scratch.append([None] * len(tensors))
        self._sizes.append(len(tensors))

    def _all_params(self) -> list[Tensor]:
        return [p for g in self.param_groups for p in g["params"]]

    # ------------------------------------------------------------------- step
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear every parameter's gradient: to ``None`` (default), or to zeros in place."""
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none:
                    p.grad = None
                elif p.grad is not None:
                    p.grad.zero_()

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update the parameters once from their ``.grad``; return ``closure()``'s loss if given.

        ``closure`` re-evaluates the model and calls ``backward()``; it is run
        with gradients enabled before the update.
        """
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        for gi, group in enumerate(self.param_groups):
            params = group["params"]
            if len(params) != self._sizes[gi]:
                raise RuntimeError(f"param_groups[{gi}]['params'] changed length from {self._sizes[gi]} to "
                                   f"{len(params)}; add new parameters with add_param_group()")
            maximize = bool(group.get("maximize", False))
            factor = constant_factor(self.transform, group)
            if factor is not None:
                self._scaled_step(gi, params, -factor if maximize else factor)
                continue
            updates = self._copy_grads(gi, params, maximize)
            if all(u is None for u in updates):
                continue
            updates, self._states[gi] = self.transform.update(updates, self._states[gi],
                                                              [p.array for p in params], group)
            for p, u in zip(params, updates):
                if u is not None:
                    p.array += u
                    p._bump_version()  # an in-place change: a graph that saved p must not backpropagate now
        return loss

    def _scaled_step(self, gi: int, params: Sequence[Tensor], factor: float) -> None:
        """``p += factor * p.grad`` for every parameter with a gradient: one pass with the compiled kernel."""
        for i, p in enumerate(params):
            if p.grad is None:
                continue
            g = self._checked_grad(gi, i, p)
            if g.dtype == p.array.dtype and kernels.usable(p.array, g):
                kernels.scaled_add(p.array, g, factor)
            else:
                buf = self._scratch_for(gi, i, p)
                get_array_module(buf).multiply(g, factor, out=buf)
                p.array += buf
            p._bump_version()

    def _checked_grad(self, gi: int, i: int, p: Tensor) -> Any:
        """``p.grad``'s array, after checking that it has the parameter's shape."""
        g = p.grad.array
        if g.shape != p.array.shape:
            raise ValueError(f"{type(self).__name__}.step: parameter {self._label(gi, i)} has shape "
                             f"{p.array.shape} but its gradient has shape {g.shape}")
        return g

    def _scratch_for(self, gi: int, i: int, p: Tensor) -> Any:
        """The reused scratch array of parameter i of group gi (its shape and dtype)."""
        buf = self._scratch[gi][i]
        if buf is None or buf.shape != p.array.shape or buf.dtype != p.array.dtype:
            buf = self._scratch[gi][i] = get_array_module(p.array).empty_like(p.array)
        return buf

    def _copy_grads(self, gi: int, params: Sequence[Tensor], maximize: bool) -> list[Any]:
        """Scratch copies of the gradients (negated for ``maximize``), reused from step to step."""
        out: list[Any] = []
        for i, p in enumerate(params):
            if p.grad is None:
                out.append(None)
                continue
            g = self._checked_grad(gi, i, p)
            buf = self._scratch_for(gi, i, p)
            if maximize:
                get_array_module(buf).negative(g, out=buf)
            else:
                buf[...] = g
            out.append(buf)
        return out

    # ------------------------------------------------------------ state dicts
    def _label(self, gi: int, i: int) -> str:
        names = self.param_groups[gi].get("param_names")
        if names is not None:
            return f"'{names[i]}'"
        return f"#{sum(self._sizes[:gi]) + i}"

    def _keys(self) -> list[list[Any]]:
        keys, k = [], 0
        for group in self.param_groups:
            names = group.get("param_names")
            if names is not None:
                keys.append(list(names))
            else:
                keys.append(list(range(k, k + len(group["params"]))))
            k += len(group["params"])
        return keys

    def state_dict(self) -> dict[str, Any]:
        """A snapshot (copies) of the optimizer state as plain arrays and numbers.

        ``{"state": {key: {entry: value}}, "param_groups": [{option: value, "params": [key, ...],
        "transform_state": {entry: number}}]}``.  Keys are parameter names when
        the optimizer was given names, else positions (as in torch).  Entries
        are ``"<link index>.<name>"`` paths into the chain's state, e.g.
        ``"1.exp_sum"``.
        """
        state: dict[Any, dict[str, Any]] = {}
        groups = []
        for gi, (group, keys) in enumerate(zip(self.param_groups, self._keys())):
            per_param, group_level = _split_state(self._states[gi], len(keys))
            for key, entries in zip(keys, per_param):
                if entries:
                    state[key] = entries
            saved = {k: _copy(v) for k, v in group.items() if k not in _RESERVED}
            saved["params"] = list(keys)
            if "param_names" in group:
                saved["param_names"] = list(group["param_names"])
            saved["transform_state"] = group_level
            groups.append(saved)
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore a :meth:`state_dict`, matching parameters by name (or position) and checking shapes.

        Raises ``ValueError`` naming the group, parameter and entry that do not
        fit; nothing is changed unless everything fits.
        """
        name = type(self).__name__
        saved_groups = list(state_dict["param_groups"])
        saved_state = state_dict.get("state", {})
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"{name}.load_state_dict: the saved state has {len(saved_groups)} parameter groups, "
                             f"this optimizer has {len(self.param_groups)}")
        new_states = []
        for gi, (group, saved, keys) in enumerate(zip(self.param_groups, saved_groups, self._keys())):
            params = group["params"]
            saved_keys = list(saved["params"])
            if len(saved_keys) != len(params):
                raise ValueError(f"{name}.load_state_dict: parameter group {gi} has {len(params)} parameters, "
                                 f"the saved group has {len(saved_keys)}")
            if "param_names" in group and "param_names" in saved:
                order = _match_names(name, gi, list(group["param_names"]), list(saved["param_names"]))
                source = [saved_keys[j] for j in order]
            else:
                source = saved_keys
            template = self.transform.init([p.array for p in params])
            for i, (p, key) in enumerate(zip(params, source)):
                label = self._label(gi, i)
                for path, value in saved_state.get(key, {}).items():
                    value = _checked_value(name, label, path, value, p.array)
                    _assign(template, path, value, index=i, where=f"{name}.load_state_dict ({self.transform.name})")
            for path, value in saved.get("transform_state", {}).items():
                _assign(template, path, _copy(value), index=None,
                        where=f"{name}.load_state_dict ({self.transform.name})")
            new_states.append(template)
        for group, saved in zip(self.param_groups, saved_groups):
            for k, v in saved.items():
                if k not in _RESERVED:
                    group[k] = _copy(v)
        self._states = new_states

    @property
    def state(self) -> dict[Tensor, dict[str, Any]]:
        """A read-only view ``{parameter: {entry: value}}`` of the per-parameter state (references)."""
        out: dict[Tensor, dict[str, Any]] = {}
        for gi, group in enumerate(self.param_groups):
            per_param, _ = _split_state(self._states[gi], len(group["params"]), copy=False)
            for p, entries in zip(group["params"], per_param):
                if entries:
                    out[p] = entries
        return out

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for k in sorted(group):
                if k not in _RESERVED:
                    lines.append(f"    {k}: {group[k]}")
        lines.append(")")
        return "\n".join(lines)


# ----------------------------------------------------------------- parameters
def _as_groups(params: Any) -> list[dict[str, Any]]:
    if isinstance(params, Tensor):
        raise TypeError("params argument given to the optimizer should be an iterable of Tensors or dicts, "
                        "but got a Tensor")
    if hasattr(params, "named_parameters") and callable(params.named_parameters):
        params = params.named_parameters()
    if isinstance(params, (set, frozenset)):
        raise TypeError("optimizer parameters need to be organized in ordered collections, but the ordering of "
                        "tensors in sets will change between runs; use a list instead")
    items = list(params)
    if not items:
        return []
    if isinstance(items[0], Mapping):
        if not all(isinstance(g, Mapping) for g in items):
            raise TypeError("params: mix of parameter-group dicts and parameters; give one or the other")
        return [dict(g) for g in items]
    return [{"params": items}]


def _split_named(params: Any) -> tuple[list[Tensor], list[str] | None]:
    if isinstance(params, Tensor):
        return [params], None
    if isinstance(params, (set, frozenset)):
        raise TypeError("optimizer parameters need to be organized in ordered collections, but the ordering of "
                        "tensors in sets will change between runs; use a list instead")
    items = list(params)
    pairs = [isinstance(x, tuple) and len(x) == 2 and isinstance(x[0], str) for x in items]
    if items and all(pairs):
        return [x[1] for x in items], [x[0] for x in items]
    if any(pairs):
        raise TypeError("params: mix of (name, parameter) pairs and bare parameters in one group")
    return items, None


def _check_param(t: Any, label: str) -> None:
    if not isinstance(t, Tensor):
        raise TypeError(f"optimizer can only optimize Tensors, but parameter {label} is a {type(t).__name__}")
    if t._ctx is not None:
        raise ValueError(f"can't optimize a non-leaf Tensor (parameter {label})")
    if t.array.dtype.kind != "f":
        raise TypeError(f"optimizer can only optimize floating-point tensors, parameter {label} has "
                        f"dtype {t.array.dtype}")


def _match_names(opt: str, gi: int, names: list[str], saved: list[str]) -> list[int]:
    index = {n: j for j, n in enumerate(saved)}
    missing = [n for n in names if n not in index]
    unexpected = [n for n in saved if n not in set(names)]
    if missing or unexpected:
        raise ValueError(f"{opt}.load_state_dict: parameter names in group {gi} do not match: "
                         f"missing {missing}, unexpected {unexpected}")
    return [index[n] for n in names]


# ---------------------------------------------------------------- state trees
def _copy(value: Any) -> Any:
    if hasattr(value, "copy") and hasattr(value, "shape"):
        return value.copy()
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def _join(path: str, key: Any) -> str:
    return f"{path}.{key}" if path else str(key)


def _split_state(state: Any, n: int, copy: bool = True) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Flatten a transform state into per-parameter entries and group-level numbers."""
    per_param: list[dict[str, Any]] = [{} for _ in range(n)]
    group: dict[str, Any] = {}
    take = _copy if copy else (lambda v: v)

    def walk(node: Any, path: str) -> None:
        if isinstance(node, PerParam):
            for i, v in enumerate(node):
                if v is not None:
                    per_param[i][path] = take(v)
        elif isinstance(node, dict):
            for k, v in node.items():
                walk(v, _join(path, k))
        elif isinstance(node, (list, tuple)):
            for k, v in enumerate(node):
                walk(v, _join(path, k))
        else:
            group[path] = take(node)

    walk(state, "")
    return per_param, group


def _assign(template: Any, path: str, value: Any, *, index: int | None, where: str) -> None:
    """Write ``value`` at ``path`` in a fresh state (at ``index`` of a PerParam for per-parameter entries)."""
    node = template
    parts = path.split(".")
    try:
        for part in parts[:-1]:
            node = node[int(part)] if isinstance(node, (list, tuple)) else node[part]
        last: Any = int(parts[-1]) if isinstance(node, (list, tuple)) else parts[-1]
        target = node[last]
    except (KeyError, IndexError, ValueError, TypeError):
        raise ValueError(f"{where}: saved entry '{path}' does not belong to this optimizer's transform") from None
    if index is None:
        if isinstance(target, PerParam):
            raise ValueError(f"{where}: saved entry '{path}' is per-parameter state, found at group level")
        node[last] = value
    else:
        if not isinstance(target, PerParam):
            raise ValueError(f"{where}: saved entry '{path}' is group-level state, found for a parameter")
        target[index] = value


def _checked_value(opt: str, label: str, path: str, value: Any, param: Any) -> Any:
    if isinstance(value, Tensor):
        value = value.array
    if hasattr(value, "detach") and hasattr(value, "numpy"):  # a torch tensor
        value = value.detach().cpu().numpy()
    if isinstance(value, (np.ndarray, np.generic)) or (hasattr(value, "__array__") and hasattr(value, "shape")):
        arr = np.asarray(value)
        if arr.ndim == 0:
            return arr.item()
        if arr.shape != param.shape:
            raise ValueError(f"{opt}.load_state_dict: state '{path}' for parameter {label} has shape {arr.shape} "
                             f"but the parameter has shape {param.shape}")
        xp = get_array_module(param)
        dtype = param.dtype if arr.dtype.kind == "f" else arr.dtype
        return xp.array(arr, dtype=dtype, copy=True)
    return _copy(value)


# ----------------------------------------------------------- no-decay groups
def default_decay_mask(name: str, param: Tensor) -> bool:
    """Decay matrices and kernels (``ndim > 1``); leave biases and norm scales (vectors) alone."""
    return param.array.ndim > 1


def param_groups_no_decay(model: Any, weight_decay: float, *,
                          decay_mask: Callable[[str, Tensor], bool] = default_decay_mask) -> list[dict[str, Any]]:
    """Two named parameter groups: decayed (``ndim > 1``) and not (biases, norm layers).

    The usual recipe is one line::

        opt = optim.AdamW(optim.param_groups_no_decay(model, weight_decay=0.05), lr=1e-3)

    ``model`` is a ``Module`` or an iterable of ``(name, parameter)`` pairs;
    parameters with ``requires_grad=False`` are left out; an empty group is
    omitted.  ``decay_mask(name, param)`` says which parameters decay.
    """
    pairs: Iterable[tuple[str, Tensor]] = model.named_parameters() if hasattr(model, "named_parameters") else model
    decay, no_decay = [], []
    for name, p in pairs:
        if getattr(p, "requires_grad", True):
            (decay if decay_mask(name, p) else no_decay).append((name, p))
    groups = []
    if decay:
        groups.append({"params": decay, "weight_decay": weight_decay})
    if no_decay:
        groups.append({"params": no_decay, "weight_decay": 0.0})
    return groups
