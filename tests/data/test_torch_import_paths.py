"""torch's import paths: ``thalweg.utils.data`` and ``thalweg.nn.modules.<file>`` give the same classes."""

import importlib

import pytest

import thalweg as tw


def test_utils_data_is_thalweg_data():
    from thalweg.utils.data import DataLoader, Dataset, RandomSampler, TensorDataset, random_split  # noqa: F401
    import thalweg.utils.data.dataloader as dataloader
    import thalweg.utils.data.sampler as sampler

    assert tw.utils.data is tw.data and DataLoader is tw.data.DataLoader
    assert dataloader.DataLoader is DataLoader and sampler.RandomSampler is RandomSampler
    assert importlib.import_module("thalweg.data.sampler") is sampler  # one module, not a copy


@pytest.mark.parametrize("path,name", [
    ("linear", "Linear"), ("linear", "Identity"), ("conv", "Conv2d"), ("activation", "ReLU"),
    ("activation", "MultiheadAttention"), ("loss", "CrossEntropyLoss"), ("loss", "_Loss"),
    ("container", "Sequential"), ("module", "Module"), ("rnn", "LSTM"), ("normalization", "LayerNorm"),
    ("batchnorm", "BatchNorm1d"), ("dropout", "Dropout"), ("pooling", "MaxPool2d"), ("sparse", "Embedding"),
    ("flatten", "Flatten"), ("transformer", "TransformerEncoderLayer"),
])
def test_nn_modules_paths(path, name):
    mod = importlib.import_module(f"thalweg.nn.modules.{path}")
    cls = getattr(mod, name)
    assert cls is getattr(tw.nn, name, cls)
    assert name in dir(mod)
    if not name.startswith("_"):
        assert name in mod.__all__ and getattr(tw.nn.modules, name) is cls


def test_missing_name_says_so():
    from thalweg.nn.modules import pooling

    with pytest.raises(AttributeError, match="no thalweg equivalent"):
        pooling.LPPool2d  # noqa: B018
