"""A stand-in for the few parts of torchvision the corpus scripts use (datasets.MNIST, transforms, save_image).

torchvision cannot be installed beside torch 2.13 here, and no script may download. This package serves
MNIST / Fashion-MNIST from the IDX files in ``$THALWEG_DATA`` as tensors of the library the run uses, so
the torch control and the thalweg run read the same data. ``CORPUS_MNIST_LIMIT`` (default 6000) keeps the
first N training images and N/6 test images, the reduced size of the corpus runs.
"""

from . import datasets, transforms, utils  # noqa: F401
