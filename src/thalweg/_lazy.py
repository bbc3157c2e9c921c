"""Load a package's less-used names on first use (PEP 562), so that importing it stays light.

A package lists where each lazy name lives and installs the two hooks::

    __getattr__, __dir__ = lazy_names(__name__, {"LBFGS": ".lbfgs", "line_search": "."})

``".lbfgs"`` means "the attribute ``LBFGS`` of the module ``lbfgs`` beside it"; ``"."`` means "the submodule
of that very name" (a package only).  ``from package import LBFGS`` and ``package.LBFGS`` then import ``package.lbfgs`` the first
time they are asked for, and the value is cached in the package's namespace, so the hook runs once per name.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping


def lazy_names(package: str, where: Mapping[str, str]) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of ``package`` for the names in ``where`` (name -> relative module)."""

    def __getattr__(name: str) -> object:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        if module == ".":
            value: object = importlib.import_module(f"{package}.{name}")
        else:  # relative to the package that holds ``package`` (itself, when it is a package)
            value = getattr(importlib.import_module(module, sys.modules[package].__package__), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(where))

    return __getattr__, __dir__
