"""Hyperparameter checks shared by the links, the optimizers and their param groups.

Every value is checked when the object is built (and when a param group is
added), with torch's messages: ``ValueError: Invalid learning rate: -0.1``.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Callable, Mapping

import numpy as np


def _real(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r} of type {type(value).__name__}")
    if math.isnan(value):
        raise ValueError(f"Invalid {name} value: {value}")
    return float(value)


def _nonneg(label: str, name: str) -> Callable[[Any], None]:
    def check(value: Any) -> None:
        if not _real(name, value) >= 0.0:
            raise ValueError(f"Invalid {label}: {value}")

    return check


def _unit_interval(label: str, name: str, *, closed: bool) -> Callable[[Any], None]:
    def check(value: Any) -> None:
        v = _real(name, value)
        if not (0.0 <= v <= 1.0 if closed else 0.0 <= v < 1.0):
            raise ValueError(f"Invalid {label}: {value}")

    return check


def _check_betas(value: Any) -> None:
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise ValueError(f"Invalid betas: expected a pair (beta1, beta2), got {value!r}")
    for i, b in enumerate(value):
        if not 0.0 <= _real("beta", b) < 1.0:
            raise ValueError(f"Invalid beta parameter at index {i}: {b}")


def _check_lr(value: Any) -> None:
    if callable(value):  # a schedule; its values are checked by whoever evaluates it
        return
    if not _real("learning rate", value) >= 0.0:
        raise ValueError(f"Invalid learning rate: {value}")


def _check_bool(name: str) -> Callable[[Any], None]:
    def check(value: Any) -> None:
        if not isinstance(value, (bool, numbers.Integral, np.bool_)) or value not in (0, 1):
            raise TypeError(f"{name} must be a bool, got {value!r}")

    return check


_RULES: dict[str, Callable[[Any], None]] = {
    "lr": _check_lr,
    "betas": _check_betas,
    "eps": _nonneg("epsilon value", "eps"),
    "weight_decay": _nonneg("weight_decay value", "weight_decay"),
    "momentum": _nonneg("momentum value", "momentum"),
    "dampening": _unit_interval("dampening value", "dampening", closed=True),
    "alpha": _nonneg("alpha value", "alpha"),
    "rho": _unit_interval("rho value", "rho", closed=True),
    "lr_decay": _nonneg("lr_decay value", "lr_decay"),
    "initial_accumulator_value": _nonneg("initial_accumulator_value value", "initial_accumulator_value"),
    "momentum_decay": _nonneg("momentum_decay value", "momentum_decay"),
    "max_norm": _nonneg("max_norm value", "max_norm"),
    "clip_value": _nonneg("clip_value value", "clip_value"),
    "eta": _nonneg("noise eta value", "eta"),
    "gamma": _nonneg("noise gamma value", "gamma"),
    "nesterov": _check_bool("nesterov"),
    "amsgrad": _check_bool("amsgrad"),
    "centered": _check_bool("centered"),
    "maximize": _check_bool("maximize"),
}


def check_hyperparams(values: Mapping[str, Any]) -> None:
    """Raise ``ValueError``/``TypeError`` for any known hyperparameter out of range.

    Unknown keys (a user's own group options) are left alone.  Cross-field
    rules (Nesterov needs momentum and no dampening) are checked too.
    """
    for key, value in values.items():
        rule = _RULES.get(key)
        if rule is not None:
            rule(value)
    if values.get("nesterov") and (values.get("momentum", 0) <= 0 or values.get("dampening", 0) != 0):
        raise ValueError("Nesterov momentum requires a momentum and zero dampening")
