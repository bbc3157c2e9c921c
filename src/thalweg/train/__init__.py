"""``thalweg.train``: the training loop, callbacks, checkpoints, run records and plots.

* ``fit(model, optimizer, train, dev, *, epochs, ...)`` / ``Trainer``: the lecture's
  loop (shuffle without replacement, step, evaluate on dev, keep the best weights,
  test once), with one printed line per epoch
* ``evaluate(model, data)``: mean loss and accuracy without a graph
* callbacks: ``EarlyStopping``, ``ReduceLROnPlateau``, ``ModelCheckpoint``,
  ``GradientClipping``, ``ScheduleCallback``, all on ``Callback``/``MonitorCallback``
* ``save_checkpoint``/``load_checkpoint``: ``.npz`` without pickle, atomic writes
* ``RunRecord``/``read_run``: the run directory; ``plot_run``/``plot_compare``/``plot_lr_find``
* ``mlp``/``lenet5``: the command line's reference models
* ``load_run(run_dir)``: a ``thalweg train`` run's model, rebuilt with its best weights
* ``TensorBoard``/``MLflowLogger``: callbacks for TensorBoard and MLflow (``train.integrations``)
"""

from .callbacks import (Callback, EarlyStopping, GradientClipping, ModelCheckpoint, MonitorCallback,
                        ReduceLROnPlateau, ScheduleCallback)
from .io import CheckpointError, atomic_write, load_checkpoint, save_checkpoint
from .loop import FitResult, Trainer, evaluate, fit
from .metrics import LOSSES, METRICS, accuracy
from .plots import PlotsUnavailable, plot_compare, plot_lr_find, plot_run
from .record import RunRecord, RunRecordError, read_run
from .._lazy import lazy_names

# Imported on first use (PEP 562): the reference models, ``load_run`` and the TensorBoard/MLflow callbacks.
__getattr__, __dir__ = lazy_names(__name__, {
    "init_weights": ".models", "lenet5": ".models", "mlp": ".models", "load_run": ".reuse",
    "MLflowLogger": ".integrations", "TensorBoard": ".integrations"})

__all__ = ["Callback", "CheckpointError", "EarlyStopping", "FitResult", "GradientClipping", "LOSSES", "METRICS",
           "ModelCheckpoint", "MonitorCallback", "PlotsUnavailable", "ReduceLROnPlateau", "RunRecord",
           "RunRecordError", "ScheduleCallback", "Trainer", "accuracy", "atomic_write", "evaluate", "fit",
           "init_weights", "lenet5", "load_checkpoint", "load_run", "mlp", "MLflowLogger", "TensorBoard",
           "plot_compare", "plot_lr_find", "plot_run", "read_run", "save_checkpoint"]
