"""Small models and data shared by the training-loop tests."""

import numpy as np

import thalweg as tw
from thalweg import nn
from thalweg.data import TensorDataset, digits_splits, make_spirals, synthetic_splits
from thalweg.train import Callback

_DIGITS = None


def digits():
    global _DIGITS
    if _DIGITS is None:
        _DIGITS = digits_splits(seed=0)
    return _DIGITS


def small_digits(n_train=400):
    s = digits()
    x, y = s.train.tensors
    return TensorDataset(x[:n_train], y[:n_train], num_classes=10), s.dev, s.test


def spirals():
    return synthetic_splits(make_spirals, n_per_class=100, n_classes=3, noise=0.1, seed=0)


def mlp(n_in=64, n_out=10, hidden=32, dropout=0.0, seed=0):
    tw.manual_seed(seed)
    layers = [nn.Linear(n_in, hidden), nn.ReLU()]
    if dropout:
        layers.append(nn.Dropout(dropout))
    layers.append(nn.Linear(hidden, n_out))
    return nn.Sequential(*layers)


def params(model):
    return {k: v.copy() for k, v in model.state_dict().items()}


class Snapshots(Callback):
    """Copies the weights at each epoch end (before the loop restores anything)."""

    def __init__(self):
        self.by_epoch = {}

    def on_epoch_end(self, trainer, epoch, logs):
        self.by_epoch[epoch] = params(trainer.model)


class Sabotage(Callback):
    """From epoch ``start`` on, replaces the weights by noise after every step: dev accuracy collapses."""

    def __init__(self, start):
        self.start = start
        self.rng = np.random.default_rng(0)
        self.epoch = 0

    def on_epoch_start(self, trainer, epoch):
        self.epoch = epoch

    def on_train_batch_end(self, trainer, logs):
        if self.epoch >= self.start:
            for p in trainer.model.parameters():
                p.array[...] = self.rng.normal(0, 1, p.shape).astype(p.dtype)
