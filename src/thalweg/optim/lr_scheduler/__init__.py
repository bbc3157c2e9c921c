"""Learning-rate schedules (``tw.optim.lr_scheduler``), torch's names and arguments.

Each is a pure function of the step count (``lr_at(t)``), writes
``group["lr"]`` on ``step()``, saves only its count, clamps past its end, and
says its unit in ``interval`` ("step" or "epoch").
"""

from .base import LRScheduler
from .compose import ChainedScheduler, SequentialLR
from .cyclic import CyclicLR, OneCycleLR
from .plateau import ReduceLROnPlateau
from .simple import (ConstantLR, CosineAnnealingLR, ExponentialLR, InverseTimeLR, LambdaLR, LinearLR, MultiStepLR,
                     PolynomialLR, StepLR)

_LRScheduler = LRScheduler  # torch's old name

__all__ = ["ChainedScheduler", "ConstantLR", "CosineAnnealingLR", "CyclicLR", "ExponentialLR", "InverseTimeLR",
           "LRScheduler", "LambdaLR", "LinearLR", "MultiStepLR", "OneCycleLR", "PolynomialLR", "ReduceLROnPlateau",
           "SequentialLR", "StepLR"]
