"""``thalweg.onnx``: export a model to ONNX, to run it with onnxruntime or any other ONNX runtime.

::

    import thalweg as tw
    tw.onnx.export(model, tw.randn(1, 1, 28, 28), "model.onnx",
                   input_names=["input"], output_names=["logits"],
                   dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})

    import onnxruntime as ort
    session = ort.InferenceSession("model.onnx")
    logits = session.run(None, {"input": x})[0]

The graph is built with the ``onnx`` package's helper API (the optional extra
``thalweg[onnx]``) by tracing one forward pass; see ``export`` for the layers
and operations covered.  Importing this module does not import ``onnx``.
"""

from .builder import UnsupportedOperatorError
from .export import export

__all__ = ["export", "UnsupportedOperatorError"]
