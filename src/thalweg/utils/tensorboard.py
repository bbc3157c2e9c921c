"""``SummaryWriter``: TensorBoard event files with ``torch.utils.tensorboard``'s API.

::

    from thalweg.utils.tensorboard import SummaryWriter

    with SummaryWriter("runs/exp1") as writer:
        for step in range(100):
            writer.add_scalar("loss/train", loss, step)
        writer.add_histogram("fc.weight", model.fc.weight, step)
        writer.add_image("digit", x[0], step)               # CHW by default, HWC with dataformats="HWC"
    # then: tensorboard --logdir runs

The files are written by the ``tensorboard`` package's own ``EventFileWriter``
from its own protocol buffers (``Event``, ``Summary``, ``HistogramProto``), so
TensorBoard reads them as it reads PyTorch's; ``tensorboard`` is the optional
extra ``thalweg[tensorboard]`` and is imported when a writer is created.
Images are encoded as PNG with ``zlib`` (no imaging library needed).
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import socket
import struct
import time
import zlib
from pathlib import Path
from typing import Any, Mapping

import numpy as np

__all__ = ["SummaryWriter"]


def _numpy(value: Any) -> np.ndarray:
    """A Tensor, a Parameter, an array or a number as an ndarray (no copy when possible)."""
    arr = getattr(value, "array", value)
    return np.asarray(arr)


def _scalar(value: Any) -> float:
    arr = _numpy(value)
    if arr.size != 1:
        raise ValueError(f"add_scalar: expected one number, got an array of shape {arr.shape}")
    return float(arr.reshape(()))


def _png(img: np.ndarray) -> bytes:
    """Encode an (H, W, C) uint8 image (C = 1, 3 or 4) as PNG: signature, IHDR, one IDAT, IEND."""
    h, w, c = img.shape
    color = {1: 0, 3: 2, 4: 6}[c]
    raw = b"".join(b"\x00" + img[row].tobytes() for row in range(h))  # filter type 0 on each row

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, color, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b""))


def _to_hwc_uint8(img: Any, dataformats: str) -> np.ndarray:
    """torch's rule: float images are in [0, 1] and are scaled by 255; uint8 images are taken as they are."""
    arr = _numpy(img)
    fmt = dataformats.upper()
    if sorted(fmt) not in (sorted("CHW"), sorted("HW")) or len(fmt) != arr.ndim:
        raise ValueError(f"add_image: dataformats {dataformats!r} does not fit an image of shape {arr.shape} "
                         "(use 'CHW', 'HWC' or 'HW')")
    if fmt == "HW":
        arr = arr[:, :, None]
    else:
        arr = np.transpose(arr, [fmt.index(a) for a in "HWC"])
    if arr.shape[2] not in (1, 3, 4):
        raise ValueError(f"add_image: an image has 1, 3 or 4 channels, got {arr.shape[2]} (shape {arr.shape})")
    if arr.dtype != np.uint8:
        arr = np.clip(np.nan_to_num(arr.astype(np.float64)) * 255.0, 0, 255).round().astype(np.uint8)
    return np.ascontiguousarray(arr)


class SummaryWriter:
    """Write scalars, histograms, images and text for TensorBoard (``torch.utils.tensorboard.SummaryWriter``).

    ``log_dir`` defaults to ``runs/<date>_<host><comment>``; ``purge_step``
    tells TensorBoard to drop events at and after that step from an earlier,
    crashed run in the same folder; ``max_queue`` and ``flush_secs`` bound what
    is kept in memory before a write; ``filename_suffix`` ends the event
    file's name.
    """

    def __init__(self, log_dir: str | os.PathLike[str] | None = None, comment: str = "",
                 purge_step: int | None = None, max_queue: int = 10, flush_secs: int = 120,
                 filename_suffix: str = "") -> None:
        try:
            from tensorboard.compat.proto import event_pb2, summary_pb2
            from tensorboard.summary.writer.event_file_writer import EventFileWriter
        except ImportError:
            raise ImportError("SummaryWriter needs the tensorboard package: pip install 'thalweg[tensorboard]'") \
                from None
        self._event_pb2, self._summary_pb2, self._EventFileWriter = event_pb2, summary_pb2, EventFileWriter
        if log_dir is None:
            stamp = _dt.datetime.now().strftime("%b%d_%H-%M-%S")
            log_dir = os.path.join("runs", f"{stamp}_{socket.gethostname()}{comment}")
        self.log_dir = str(log_dir)
        self.purge_step = purge_step
        self.max_queue, self.flush_secs, self.filename_suffix = int(max_queue), int(flush_secs), filename_suffix
        self._writers: dict[str, Any] = {}
        self._closed = False
        main = self._writer(self.log_dir)
        if purge_step is not None:
            SessionLog = event_pb2.SessionLog
            main.add_event(event_pb2.Event(step=int(purge_step), wall_time=time.time(),
                                           session_log=SessionLog(status=SessionLog.START)))

    # ------------------------------------------------------------ writers
    def _writer(self, folder: str) -> Any:
        if self._closed:
            raise RuntimeError("SummaryWriter: the writer is closed")
        w = self._writers.get(folder)
        if w is None:
            Path(folder).mkdir(parents=True, exist_ok=True)
            w = self._EventFileWriter(folder, self.max_queue, self.flush_secs, self.filename_suffix)
            self._writers[folder] = w
        return w

    def get_logdir(self) -> str:
        """The directory the event files are written to."""
        return self.log_dir

    def _add(self, summary: Any, global_step: int | None, walltime: float | None, folder: str | None = None) -> None:
        event = self._event_pb2.Event(summary=summary, wall_time=time.time() if walltime is None else float(walltime))
        if global_step is not None:
            event.step = int(global_step)
        self._writer(folder or self.log_dir).add_event(event)

    # ------------------------------------------------------------ summaries
    def add_scalar(self, tag: str, scalar_value: Any, global_step: int | None = None,
                   walltime: float | None = None) -> None:
        """One number, plotted against ``global_step`` under ``tag``."""
        S = self._summary_pb2.Summary
        self._add(S(value=[S.Value(tag=tag, simple_value=_scalar(scalar_value))]), global_step, walltime)

    def add_scalars(self, main_tag: str, tag_scalar_dict: Mapping[str, Any], global_step: int | None = None,
                    walltime: float | None = None) -> None:
        """Several curves on one chart: each key is written to its own run ``<log_dir>/<main_tag>_<key>``."""
        S = self._summary_pb2.Summary
        for key, value in tag_scalar_dict.items():
            folder = os.path.join(self.log_dir, f"{main_tag}_{key}".replace("/", "_"))
            self._add(S(value=[S.Value(tag=main_tag, simple_value=_scalar(value))]), global_step, walltime, folder)

    def add_histogram(self, tag: str, values: Any, global_step: int | None = None, bins: str | int = "tensorflow",
                      walltime: float | None = None, max_bins: int | None = None) -> None:
        """The distribution of ``values`` (e.g. a layer's weights); ``bins`` as NumPy's, or torch's default."""
        arr = _numpy(values).astype(np.float64).ravel()
        if arr.size == 0:
            raise ValueError(f"add_histogram: {tag!r} has no values")
        if not np.isfinite(arr).all():
            raise ValueError(f"add_histogram: {tag!r} holds NaN or infinite values")
        if bins == "tensorflow":  # torch's default: TensorFlow's exponentially spaced edges, +-1e-12 .. 1e20
            pos = 1e-12 * 1.1 ** np.arange(0, 775)
            pos = pos[pos < 1e20]
            edges = np.concatenate([-pos[::-1], [0.0], pos])
        else:
            edges = np.histogram_bin_edges(arr, bins=bins)
        counts, edges = np.histogram(arr, bins=edges)
        nonzero = np.flatnonzero(counts)
        if nonzero.size:  # keep the buckets from the first to the last that holds a value
            counts, edges = counts[nonzero[0]:nonzero[-1] + 1], edges[nonzero[0]:nonzero[-1] + 2]
        if max_bins is not None and counts.size > int(max_bins):  # merge neighbours down to max_bins
            k = -(-counts.size // int(max_bins))
            pad = (-counts.size) % k
            counts = np.concatenate([counts, np.zeros(pad, counts.dtype)]).reshape(-1, k).sum(1)
            right = edges[1:]
            right = np.concatenate([right, np.full(pad, right[-1])])[k - 1::k]
            edges = np.concatenate([edges[:1], right])
        hist = self._summary_pb2.HistogramProto(
            min=float(arr.min()), max=float(arr.max()), num=int(arr.size), sum=float(arr.sum()),
            sum_squares=float((arr * arr).sum()), bucket_limit=[float(e) for e in edges[1:]],
            bucket=[float(c) for c in counts])
        S = self._summary_pb2.Summary
        self._add(S(value=[S.Value(tag=tag, histo=hist)]), global_step, walltime)

    def add_image(self, tag: str, img_tensor: Any, global_step: int | None = None, walltime: float | None = None,
                  dataformats: str = "CHW") -> None:
        """An image (``CHW``, ``HWC`` or ``HW``; floats in [0, 1] or uint8), encoded as PNG."""
        img = _to_hwc_uint8(img_tensor, dataformats)
        S = self._summary_pb2.Summary
        image = S.Image(height=img.shape[0], width=img.shape[1], colorspace=img.shape[2],
                        encoded_image_string=_png(img))
        self._add(S(value=[S.Value(tag=tag, image=image)]), global_step, walltime)

    def add_text(self, tag: str, text_string: str, global_step: int | None = None,
                 walltime: float | None = None) -> None:
        """Markdown text, shown in TensorBoard's Text tab (the ``text`` plugin's tensor format)."""
        from tensorboard.compat.proto import tensor_pb2, tensor_shape_pb2, types_pb2

        S = self._summary_pb2.Summary
        meta = self._summary_pb2.SummaryMetadata(
            plugin_data=self._summary_pb2.SummaryMetadata.PluginData(plugin_name="text"))
        tensor = tensor_pb2.TensorProto(dtype=types_pb2.DT_STRING, string_val=[str(text_string).encode("utf-8")],
                                        tensor_shape=tensor_shape_pb2.TensorShapeProto(
                                            dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=1)]))
        self._add(S(value=[S.Value(tag=f"{tag}/text_summary", metadata=meta, tensor=tensor)]), global_step, walltime)

    def add_hparams(self, hparam_dict: Mapping[str, Any], metric_dict: Mapping[str, Any],
                    hparam_domain_discrete: Mapping[str, list[Any]] | None = None, run_name: str | None = None,
                    global_step: int | None = None) -> None:
        """One trial's hyperparameters and final metrics for the HParams tab, as torch writes them.

        The hyperparameters go to a sub-run (``run_name``, default a time
        stamp) with the metrics as scalars beside them."""
        from tensorboard.plugins.hparams import api_pb2, plugin_data_pb2
        from google.protobuf import struct_pb2

        if not isinstance(hparam_dict, Mapping) or not isinstance(metric_dict, Mapping):
            raise TypeError("add_hparams: hparam_dict and metric_dict must be dictionaries")
        folder = os.path.join(self.log_dir, run_name or str(time.time()))
        session = plugin_data_pb2.SessionStartInfo()
        infos = []
        for k, v in hparam_dict.items():
            v = _numpy(v).item() if hasattr(v, "array") or isinstance(v, np.generic) else v
            if isinstance(v, bool):
                session.hparams[k].bool_value = v
                kind = api_pb2.DATA_TYPE_BOOL
            elif isinstance(v, (int, float)):
                session.hparams[k].number_value = float(v)
                kind = api_pb2.DATA_TYPE_FLOAT64
            elif isinstance(v, str):
                session.hparams[k].string_value = v
                kind = api_pb2.DATA_TYPE_STRING
            else:
                session.hparams[k].string_value = json.dumps(v, default=str)
                kind = api_pb2.DATA_TYPE_STRING
            domain = (hparam_domain_discrete or {}).get(k)
            info = api_pb2.HParamInfo(name=k, type=kind)
            if domain is not None:
                info.domain_discrete.extend([struct_pb2.Value(string_value=d) if isinstance(d, str) else
                                             struct_pb2.Value(bool_value=d) if isinstance(d, bool) else
                                             struct_pb2.Value(number_value=float(d)) for d in domain])
            infos.append(info)
        experiment = api_pb2.Experiment(hparam_infos=infos, metric_infos=[
            api_pb2.MetricInfo(name=api_pb2.MetricName(tag=k)) for k in metric_dict])
        S, Meta = self._summary_pb2.Summary, self._summary_pb2.SummaryMetadata

        def plugin_summary(tag: str, data: Any) -> Any:
            meta = Meta(plugin_data=Meta.PluginData(plugin_name="hparams", content=data.SerializeToString()))
            return S(value=[S.Value(tag=tag, metadata=meta)])

        self._add(plugin_summary("_hparams_/experiment", plugin_data_pb2.HParamsPluginData(
            experiment=experiment, version=0)), global_step, None, folder)
        self._add(plugin_summary("_hparams_/session_start_info", plugin_data_pb2.HParamsPluginData(
            session_start_info=session, version=0)), global_step, None, folder)
        self._add(plugin_summary("_hparams_/session_end_info", plugin_data_pb2.HParamsPluginData(
            session_end_info=plugin_data_pb2.SessionEndInfo(status=api_pb2.STATUS_SUCCESS), version=0)),
            global_step, None, folder)
        for k, v in metric_dict.items():
            self._add(S(value=[S.Value(tag=k, simple_value=_scalar(v))]), global_step, None, folder)

    # ------------------------------------------------------------ life cycle
    def flush(self) -> None:
        """Write everything queued to disk."""
        for w in self._writers.values():
            w.flush()

    def close(self) -> None:
        """Flush and close every event file (a closed writer refuses further summaries)."""
        if self._closed:
            return
        for w in self._writers.values():
            w.flush()
            w.close()
        self._closed = True

    def __enter__(self) -> "SummaryWriter":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
