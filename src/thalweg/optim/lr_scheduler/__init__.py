"""Learning-rate schedules (``tw.optim.lr_scheduler``), torch's names and arguments.

Each is a function of the step count (``lr_at(t)``), writes ``group["lr"]``
on ``step()``, saves only its count, and says its unit in ``interval``
("step" or "epoch").  A class with a torch name gives torch's sequence, past
its end too (``CosineAnnealingLR`` rises again after ``T_max``,
``OneCycleLR`` raises past ``total_steps``); ``CosineDecayLR`` is the
cosine that stays at ``eta_min``.
"""

from .base import LRScheduler
from .compose import ChainedScheduler, SequentialLR
from .cyclic import CyclicLR, OneCycleLR
from .plateau import ReduceLROnPlateau
from .simple import (ConstantLR, CosineAnnealingLR, CosineDecayLR, ExponentialLR, InverseTimeLR, LambdaLR, LinearLR,
                     MultiStepLR, PolynomialLR, StepLR)

_LRScheduler = LRScheduler  # torch's old name

__all__ = ["ChainedScheduler", "ConstantLR", "CosineAnnealingLR", "CosineDecayLR", "CyclicLR", "ExponentialLR",
           "InverseTimeLR", "LRScheduler", "LambdaLR", "LinearLR", "MultiStepLR", "OneCycleLR", "PolynomialLR",
           "ReduceLROnPlateau", "SequentialLR", "StepLR"]
