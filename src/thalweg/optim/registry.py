"""The one registry of optimizers and schedules that the test suite walks.

Add a new optimizer or schedule here and the tests in ``tests/optim`` pick it
up: it must lower a quadratic and the Rosenbrock function, match
``torch.optim`` step for step when ``torch_name`` is set (or a reference in the
tests when it is not), survive a ``state_dict`` round trip, ...  An entry
without a torch counterpart and without a reference in the tests fails them, so
nothing can skip the checks.

``LBFGS`` is not listed: it needs a closure at every step and has its own
tests (``tests/optim/test_lbfgs.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from . import lr_scheduler as S
from .optimizers import SGD, Adadelta, Adagrad, Adam, Adamax, AdamW, NAdam, RAdam, RMSprop

__all__ = ["OPTIMIZERS", "OptimizerEntry", "SCHEDULERS", "SchedulerEntry"]


@dataclass(frozen=True)
class OptimizerEntry:
    """``factory(params, **kwargs)`` builds the optimizer.

    Attributes:
        test_kwargs: options under which it descends on the test problems.
        torch_name: the ``torch.optim`` class with the same update rule, or None.
        variants: option sets the torch comparison walks besides the defaults
            (momentum, Nesterov, weight decay, AMSGrad, centered, ...).
        multi_group: whether it supports several parameter groups.
        descent_steps: steps the descent tests run.
    """

    factory: Callable[..., Any]
    test_kwargs: Mapping[str, Any]
    torch_name: str | None
    variants: tuple[Mapping[str, Any], ...] = ()
    multi_group: bool = True
    descent_steps: int = 300


@dataclass(frozen=True)
class SchedulerEntry:
    """``factory(optimizer, **test_kwargs)`` builds the schedule.

    Attributes:
        torch_name: the ``torch.optim.lr_scheduler`` class it reproduces, or None.
        steps: how many steps the tests walk (within the schedule's range when
            it is finite, since past the end we clamp where torch raises or wraps).
        needs_metric: ``step(metric)`` (ReduceLROnPlateau).
        optimizer: the optimizer class the tests drive it with.
        optimizer_kwargs: the options of that optimizer.
        build: ``build(lr_scheduler_module, optimizer)`` for composite schedules, so the same
            code builds ours and torch's.
    """

    factory: Callable[..., Any]
    test_kwargs: Mapping[str, Any]
    torch_name: str | None
    steps: int = 30
    needs_metric: bool = False
    optimizer: str = "SGD"
    optimizer_kwargs: Mapping[str, Any] = field(default_factory=lambda: {"lr": 0.1, "momentum": 0.9})
    build: Callable[[Any, Any], Any] | None = None

    def make(self, optimizer: Any, module: Any = None) -> Any:
        """Build the schedule on ``optimizer``; with ``module=torch.optim.lr_scheduler``, torch's twin."""
        if self.build is not None:
            return self.build(S if module is None else module, optimizer)
        if module is None:
            return self.factory(optimizer, **self.test_kwargs)
        return getattr(module, self.torch_name or self.factory.__name__)(optimizer, **self.test_kwargs)


OPTIMIZERS: dict[str, OptimizerEntry] = {
    "SGD": OptimizerEntry(SGD, {"lr": 1e-3, "momentum": 0.9}, "SGD", (
        {"lr": 0.05},
        {"lr": 0.02, "momentum": 0.9},
        {"lr": 0.02, "momentum": 0.9, "nesterov": True},
        {"lr": 0.02, "momentum": 0.8, "dampening": 0.3},
        {"lr": 0.02, "momentum": 0.5, "weight_decay": 0.1},
        {"lr": 0.01, "maximize": True},
    )),
    "Adam": OptimizerEntry(Adam, {"lr": 0.05}, "Adam", (
        {"lr": 0.01},
        {"lr": 0.01, "amsgrad": True},
        {"lr": 0.01, "weight_decay": 0.1},
        {"lr": 0.02, "betas": (0.8, 0.99), "eps": 1e-6, "amsgrad": True, "weight_decay": 0.05},
        {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True},
    )),
    "AdamW": OptimizerEntry(AdamW, {"lr": 0.05}, "AdamW", (
        {"lr": 0.01},
        {"lr": 0.01, "weight_decay": 0.1, "amsgrad": True},
    )),
    "Adagrad": OptimizerEntry(Adagrad, {"lr": 0.5}, "Adagrad", (
        {"lr": 0.1},
        {"lr": 0.1, "lr_decay": 0.01, "initial_accumulator_value": 0.1, "weight_decay": 0.05, "eps": 1e-8},
    )),
    "Adadelta": OptimizerEntry(Adadelta, {"lr": 20.0}, "Adadelta", (
        {"lr": 1.0},
        {"lr": 2.0, "rho": 0.8, "weight_decay": 0.1, "eps": 1e-5},
    )),
    "RMSprop": OptimizerEntry(RMSprop, {"lr": 0.01}, "RMSprop", (
        {"lr": 0.01},
        {"lr": 0.01, "centered": True},
        {"lr": 0.01, "momentum": 0.9},
        {"lr": 0.01, "centered": True, "momentum": 0.5, "weight_decay": 0.1, "alpha": 0.9},
    )),
    "Adamax": OptimizerEntry(Adamax, {"lr": 0.05}, "Adamax", (
        {"lr": 0.01},
        {"lr": 0.01, "weight_decay": 0.1, "betas": (0.8, 0.99)},
    )),
    "NAdam": OptimizerEntry(NAdam, {"lr": 0.05}, "NAdam", (
        {"lr": 0.01},
        {"lr": 0.01, "momentum_decay": 0.01, "weight_decay": 0.1},
        {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True},
    )),
    "RAdam": OptimizerEntry(RAdam, {"lr": 0.005}, "RAdam", (
        {"lr": 0.01},
        {"lr": 0.01, "weight_decay": 0.1},
        {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True},
    ), descent_steps=800),
}

SCHEDULERS: dict[str, SchedulerEntry] = {
    "StepLR": SchedulerEntry(S.StepLR, {"step_size": 4, "gamma": 0.5}, "StepLR"),
    "MultiStepLR": SchedulerEntry(S.MultiStepLR, {"milestones": [3, 7, 7, 15], "gamma": 0.5}, "MultiStepLR"),
    "ExponentialLR": SchedulerEntry(S.ExponentialLR, {"gamma": 0.9}, "ExponentialLR"),
    "InverseTimeLR": SchedulerEntry(S.InverseTimeLR, {"alpha": 0.5}, None),
    "LambdaLR": SchedulerEntry(S.LambdaLR, {"lr_lambda": lambda t: 1.0 / (1 + t) ** 0.5}, "LambdaLR"),
    "CosineAnnealingLR": SchedulerEntry(S.CosineAnnealingLR, {"T_max": 20, "eta_min": 0.001}, "CosineAnnealingLR",
                                        steps=20),
    "LinearLR": SchedulerEntry(S.LinearLR, {"start_factor": 0.1, "end_factor": 0.9, "total_iters": 8}, "LinearLR"),
    "ConstantLR": SchedulerEntry(S.ConstantLR, {"factor": 0.25, "total_iters": 6}, "ConstantLR"),
    "PolynomialLR": SchedulerEntry(S.PolynomialLR, {"total_iters": 12, "power": 2.0}, "PolynomialLR", steps=12),
    "CyclicLR": SchedulerEntry(S.CyclicLR, {"base_lr": 0.01, "max_lr": 0.1, "step_size_up": 4, "step_size_down": 6},
                               "CyclicLR", steps=45),
    "CyclicLR-triangular2": SchedulerEntry(S.CyclicLR, {"base_lr": 0.01, "max_lr": 0.1, "step_size_up": 5,
                                                        "mode": "triangular2"}, "CyclicLR", steps=45),
    "CyclicLR-exp_range": SchedulerEntry(S.CyclicLR, {"base_lr": 0.01, "max_lr": 0.1, "step_size_up": 5,
                                                      "mode": "exp_range", "gamma": 0.97}, "CyclicLR", steps=45,
                                         optimizer="Adam", optimizer_kwargs={"lr": 0.01}),
    "OneCycleLR": SchedulerEntry(S.OneCycleLR, {"max_lr": 0.5, "total_steps": 40}, "OneCycleLR", steps=39),
    "OneCycleLR-three_phase": SchedulerEntry(S.OneCycleLR, {"max_lr": 0.5, "total_steps": 40, "three_phase": True,
                                                            "anneal_strategy": "linear"}, "OneCycleLR", steps=39,
                                             optimizer="Adam", optimizer_kwargs={"lr": 0.01}),
    "ReduceLROnPlateau": SchedulerEntry(S.ReduceLROnPlateau, {"mode": "min", "factor": 0.5, "patience": 2,
                                                              "threshold": 0.01, "cooldown": 1, "min_lr": 0.004},
                                        "ReduceLROnPlateau", needs_metric=True),
    "ReduceLROnPlateau-max-abs": SchedulerEntry(S.ReduceLROnPlateau, {"mode": "max", "factor": 0.1, "patience": 1,
                                                                      "threshold": 0.05, "threshold_mode": "abs"},
                                                "ReduceLROnPlateau", needs_metric=True),
    "SequentialLR": SchedulerEntry(S.SequentialLR, {}, "SequentialLR", steps=25, build=lambda M, opt: M.SequentialLR(
        opt, [M.LinearLR(opt, start_factor=0.1, total_iters=5), M.CosineAnnealingLR(opt, T_max=20, eta_min=0.01)],
        milestones=[5])),
    "ChainedScheduler": SchedulerEntry(S.ChainedScheduler, {}, "ChainedScheduler", build=lambda M, opt: (
        M.ChainedScheduler([M.ExponentialLR(opt, gamma=0.95), M.MultiStepLR(opt, milestones=[4, 9], gamma=0.5),
                            M.LinearLR(opt, start_factor=0.5, total_iters=6)]))),
}
