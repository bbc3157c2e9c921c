"""Which library a corpus run uses: ``CORPUS_BACKEND`` is ``torch`` (the control) or ``thalweg``."""

import importlib
import os


def lib():
    """The ``torch`` module, or ``thalweg`` standing in for it."""
    return importlib.import_module("thalweg" if os.environ.get("CORPUS_BACKEND") == "thalweg" else "torch")
