"""``DistributedDataParallel``: one model replica per process, gradients averaged during backward.

::

    dist.init_process_group("mpi")
    model = DistributedDataParallel(net)          # every rank now holds rank 0's weights
    for x, y in loader:                           # each rank reads its own shard (DistributedSampler)
        opt.zero_grad()
        loss_fn(model(x), y).backward()           # gradients are averaged over ranks before this returns
        opt.step()                                # same averaged gradient, same update, on every rank

Because every replica starts from the same weights (broadcast from rank 0 at
construction) and applies the same averaged gradient, the replicas stay
identical without ever sending weights again.  The averaging is done by
``Reducer`` (``reducer.py``): buckets of about ``bucket_cap_mb`` MB, all-reduced
with non-blocking MPI calls while backward continues.

* ``no_sync()``: within it, backward accumulates local gradients without
  communicating; the first backward after it averages the accumulated sums
  (gradient accumulation over several micro-batches).
* ``broadcast_buffers=True``: at each training forward, rank 0's buffers (the
  running statistics of BatchNorm) are copied to all ranks, as in torch; the
  batch statistics themselves stay local unless ``nn.SyncBatchNorm`` is used.
* ``.module`` is the wrapped model; ``state_dict()`` keys carry torch's
  ``"module."`` prefix (save ``model.module.state_dict()`` for plain keys).
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator

from ...autograd import grad_mode
from ...distributed.process_group import default_group
from ..module import Module
from .reducer import Reducer

__all__ = ["DistributedDataParallel"]


class DistributedDataParallel(Module):
    """Data-parallel wrapper of ``module`` over the default process group (see the module docstring).

    ``device_ids``, ``output_device``, ``dim``, ``gradient_as_bucket_view`` and
    ``static_graph`` are accepted for torch scripts and have no effect on the CPU.
    """

    def __init__(self, module: Module, device_ids: Any = None, output_device: Any = None, dim: int = 0,
                 broadcast_buffers: bool = True, process_group: Any = None, bucket_cap_mb: float | None = 25.0,
                 find_unused_parameters: bool = False, check_reduction: bool = False,
                 gradient_as_bucket_view: bool = False, static_graph: bool = False) -> None:
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"DistributedDataParallel wraps an nn.Module, got {type(module).__name__}")
        if isinstance(module, DistributedDataParallel):
            raise TypeError("DistributedDataParallel: the module is already wrapped")
        group = default_group()
        self.module = module
        self.broadcast_buffers = bool(broadcast_buffers)
        self.find_unused_parameters = bool(find_unused_parameters)
        self.require_backward_grad_sync = True
        self.process_group = group
        named = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
        if not named:
            raise RuntimeError("DistributedDataParallel is not needed when a module has no parameter that "
                               "requires a gradient")
        self._sync_module_states(group)
        self.reducer = Reducer(named, group, bucket_cap_mb=25.0 if bucket_cap_mb is None else bucket_cap_mb,
                               find_unused_parameters=find_unused_parameters)

    def _sync_module_states(self, group: Any) -> None:
        """Copy rank 0's parameters and buffers to every rank (in place, buffer by buffer)."""
        if group.size == 1:
            return
        for _, p in self.module.named_parameters():
            group.bcast(p.array, 0)
        self._sync_buffers(group)

    def _sync_buffers(self, group: Any) -> None:
        for _, b in self.module.named_buffers():
            if b is not None:
                group.bcast(b.array, 0)

    @contextmanager
    def no_sync(self) -> Iterator[None]:
        """Backward passes inside accumulate local gradients only; the next one outside averages the sums."""
        old = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = old

    def forward(self, *inputs: Any, **kwargs: Any) -> Any:
        group = self.process_group
        sync = self.require_backward_grad_sync and grad_mode.is_grad_enabled()
        if sync:
            self.reducer.check_finished()  # before the forward, as torch: a parameter missed the last backward
        if self.training and self.broadcast_buffers and group.size > 1:
            self._sync_buffers(group)
        out = self.module(*inputs, **kwargs)
        if sync:
            self.reducer.prepare(out)
        return out

    def extra_repr(self) -> str:
        return (f"world_size={self.process_group.size}, buckets={len(self.reducer.buckets)}, "
                f"find_unused_parameters={self.find_unused_parameters}")
