"""Callbacks that send a run to the tools people already use: TensorBoard and MLflow.

* ``TensorBoard(log_dir)``: loss, accuracy, learning rate, gradient norms and
  weight histograms as TensorBoard event files (``thalweg[tensorboard]``);
* ``MLflowLogger(tracking_uri)``: parameters, per-epoch metrics, test figures
  and the run record as artifacts in an MLflow store (``thalweg[mlflow]``).

Each imports its package when the run starts, so importing this module costs
nothing and a missing package is reported by name.
"""

from .mlflow import MLflowLogger
from .tensorboard import TensorBoard

__all__ = ["MLflowLogger", "TensorBoard"]
