"""Make a module of ``thalweg.nn.modules`` resolve torch's class names from wherever thalweg defines them.

Each alias module lists the names torch's file of the same name defines.  A
name is looked up on first access: in ``thalweg.nn`` (the public classes),
then in the given thalweg source modules (private bases such as ``_Loss``).
Nothing is imported until a name is used, so an alias never fails at import
time while a layer is being added elsewhere, and a name thalweg lacks raises
an ``AttributeError`` that says so.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any, Sequence

__all__ = ["install"]


def install(module_name: str, names: Sequence[str], sources: Sequence[str] = ()) -> None:
    """Give ``module_name`` a lazy ``__getattr__``/``__dir__`` over ``names`` (and a computed ``__all__``)."""
    module = sys.modules[module_name]
    torch_path = "torch.nn.modules." + module_name.rsplit(".", 1)[-1]

    def resolve(name: str) -> Any:
        nn = importlib.import_module("thalweg.nn")
        if hasattr(nn, name):
            return getattr(nn, name)
        for src in sources:
            try:
                mod = importlib.import_module(src)
            except ImportError:
                continue
            if hasattr(mod, name):
                return getattr(mod, name)
        raise AttributeError(f"{torch_path}.{name} has no thalweg equivalent yet (module {module_name!r})")

    def __getattr__(name: str) -> Any:  # noqa: N807 - PEP 562 module hook
        if name == "__all__":
            available = []
            for n in names:
                try:
                    resolve(n)
                except (AttributeError, ImportError):
                    continue
                available.append(n)
            return available
        if name in names:
            value = resolve(name)
            setattr(module, name, value)
            return value
        raise AttributeError(f"module {module_name!r} has no attribute {name!r}")

    def __dir__() -> list[str]:  # noqa: N807
        return sorted(set(names) | set(vars(module)))

    module.__getattr__ = __getattr__  # type: ignore[attr-defined]
    module.__dir__ = __dir__  # type: ignore[attr-defined]
