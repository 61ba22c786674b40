"""Data parallelism across processes: one run trained by N replicas (``torchrun``).

``torchrun --nproc_per_node=N -m thermogan train CONFIG ...`` starts N processes; each builds the
same trainer (same seed, so the same initial weights) and ``attach`` makes them replicas of one
run. The global batch ``train.batch_size`` is split into N equal shards: every replica draws the
whole batch's data and latents from the shared streams and keeps its own rows, so the N shards
together are exactly the batch a single process draws. Each replica's optimizers average the
gradients over the replicas before they step (G's, D's, the players'), an SGLD D's gradient
variance is averaged too, and the state of the temperings and G terms (a β'-GAN coupling that
steps by hand, a controller's level) is averaged after the players' step, so the replicas never
drift apart. The optimizers' own noise streams (SGLD) are shared, so every replica injects the
same noise; the streams that act on a replica's own rows (temperings, gradient penalty, players)
are its own, derived from the seed and the rank (rank 0's are the single run's).

The members of a seed sweep train the same way, stacked (``train/ensemble.py`` averages the
stacked gradients and SGLD variances with ``average``). Rank 0 (``is_main``) logs, draws
figures, scores and writes checkpoints (atomically); a
checkpoint holds every replica's random streams, and every replica resumes from it. So N = 1 is
the single run, and N replicas equal one process with the same global batch up to the order in
which floating-point sums are taken (tested with a real ``torchrun`` of 2 gloo processes).
Backends: gloo on CPU, nccl on CUDA (each process on its ``LOCAL_RANK``'s GPU). Batch norm
normalises over the whole batch on CUDA (``SyncBatchNorm``); on CPU, where gloo has no
synchronised batch norm, each replica normalises over its own rows, so a run with batch norm is
then equal to one process in distribution, not to rounding.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor, nn

from thermogan.errors import ConfigError
from thermogan.step import DStep

#: Streams every replica shares: the data and latents (drawn for the whole batch, then sharded)
#: and the optimizers' (an SGLD's noise must be the same on every replica).
SHARED_STREAMS = ("data", "latents", "optim.g", "optim.d")


def launched() -> bool:
    """Whether this process is one of several started by torchrun (WORLD_SIZE > 1)."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def main_process() -> bool:
    """Whether this process writes (the main replica, rank 0), known before any run is built:
    torchrun sets RANK; a process of its own is the main one."""
    return int(os.environ.get("RANK", "0")) == 0


def local_device(device: torch.device) -> torch.device:
    """A CUDA device without an index becomes this process's GPU (``LOCAL_RANK``) under
    torchrun; anything else is returned as is."""
    if device.type == "cuda" and device.index is None and "LOCAL_RANK" in os.environ:
        return torch.device("cuda", int(os.environ["LOCAL_RANK"]))
    return device


class Replicas:
    """A run in one process: the whole batch is this process's, and there is nothing to agree on.
    Every Trainer starts with this; ``attach`` replaces it with ``DataParallel``."""

    rank, size, is_main = 0, 1, True

    def take(self, x: Tensor | None) -> Tensor | None:
        """This replica's rows of a whole batch ``x`` (B, ...)."""
        return x

    def agree(self, modules: Iterable[nn.Module]) -> None:
        """Average the floating-point parameters and buffers of ``modules`` over the replicas."""

    def average(self, tensors: Iterable[Tensor | None]) -> None:
        """Average ``tensors`` (gradients, variances; None: skipped) over the replicas, in
        place."""

    def whole_logits(self, d: DStep) -> DStep:
        """``d`` with D's logits of the whole batch (every replica's rows, in rank order), so
        that controllers read the global batch and every replica's state stays the same."""
        return d

    def gather(self, value: Any) -> list[Any]:
        """``value`` of every replica, in rank order (on every replica)."""
        return [value]

    def mean(self, values: dict[str, float]) -> dict[str, float]:
        """Each logged value averaged over the replicas."""
        return values

    def check_agreement(self, modules: Iterable[nn.Module]) -> None:
        """Raise RuntimeError when the replicas' weights of ``modules`` differ."""


def _average(tensors: list[Tensor], size: int) -> None:
    """All-reduce the mean of ``tensors`` in place, as one flat buffer per dtype."""
    by_dtype: dict[torch.dtype, list[Tensor]] = {}
    for t in tensors:
        by_dtype.setdefault(t.dtype, []).append(t)
    for group in by_dtype.values():
        flat = torch.cat([t.reshape(-1) for t in group])
        dist.all_reduce(flat)
        flat /= size
        offset = 0
        for t in group:
            t.copy_(flat[offset:offset + t.numel()].view_as(t))
            offset += t.numel()


class DataParallel(Replicas):
    """Replica ``rank`` of ``size`` in the default process group."""

    is_main = property(lambda self: self.rank == 0)

    def __init__(self, rank: int, size: int) -> None:
        self.rank, self.size = rank, size

    def take(self, x: Tensor | None) -> Tensor | None:
        return None if x is None else x.tensor_split(self.size)[self.rank]

    def agree(self, modules: Iterable[nn.Module]) -> None:
        tensors = [t for m in modules for t in (*m.parameters(), *m.buffers())
                   if t.is_floating_point()]
        if tensors:
            with torch.no_grad():
                _average(tensors, self.size)

    def whole_logits(self, d: DStep) -> DStep:
        def whole(x: Tensor | None) -> Tensor | None:
            return None if x is None else torch.cat(self.gather(x.cpu())).to(x.device)

        return dataclasses.replace(d, real_logits=whole(d.real_logits),
                                   fake_logits=whole(d.fake_logits))

    def average(self, tensors: Iterable[Tensor | None]) -> None:
        present = [t for t in tensors if t is not None]
        if present:
            _average(present, self.size)

    def average_gradients(self, optimizer: torch.optim.Optimizer) -> None:
        """Average the gradients of ``optimizer``'s parameters over the replicas."""
        self.average(p.grad for group in optimizer.param_groups for p in group["params"])

    def gather(self, value: Any) -> list[Any]:
        out: list[Any] = [None] * self.size
        dist.all_gather_object(out, value)
        return out

    def mean(self, values: dict[str, float]) -> dict[str, float]:
        keys = sorted(values)
        flat = torch.tensor([values[k] for k in keys], dtype=torch.float64)
        if flat.numel():
            dist.all_reduce(flat)
        return {k: float(v) / self.size for k, v in zip(keys, flat)}

    def check_agreement(self, modules: Iterable[nn.Module]) -> None:
        flat = torch.cat([p.detach().double().reshape(-1).cpu()
                          for m in modules for p in m.parameters()])
        low, high = flat.clone(), flat.clone()
        dist.all_reduce(low, dist.ReduceOp.MIN)
        dist.all_reduce(high, dist.ReduceOp.MAX)
        gap = float((high - low).abs().max())
        if gap > 0:
            raise RuntimeError(f"the {self.size} replicas' weights differ by up to {gap:.3g}: "
                               "data-parallel training lost its synchronisation")


class _AveragedVariance:
    """An SGLD D's gradient-variance estimator whose estimate is averaged over the replicas."""

    def __init__(self, inner: Any, replicas: DataParallel) -> None:
        self.inner, self.replicas = inner, replicas

    def __getattr__(self, name: str) -> Any:  # what it estimates and how: the inner one's
        return getattr(self.inner, name)

    def watch(self) -> Any:
        return self.inner.watch()

    def __call__(self, *args: Any) -> dict[nn.Parameter, Tensor]:
        variance = self.inner(*args)
        self.replicas.average(variance.values())
        return variance


def _optimizers(trainer: Any) -> list[torch.optim.Optimizer]:
    """G's and D's optimizers and those the players hold (the lens's, a denoiser's)."""
    found = [trainer.g_opt, trainer.d_opt]
    for player in trainer.players.values():
        found += [v for v in vars(player).values() if isinstance(v, torch.optim.Optimizer)]
    return found


def attach(trainer: Any, seed: int) -> None:
    """Make ``trainer`` (built with ``seed``) this process's replica of a torchrun job: join the
    process group, shard the batch, average gradients and state. Nothing happens outside
    torchrun (or with one process)."""
    if not launched():
        return
    size = int(os.environ["WORLD_SIZE"])
    if trainer.batch_size % size:
        raise ConfigError(f"train.batch_size={trainer.batch_size} does not split into "
                          f"{size} equal shards, one per process; choose a multiple of {size}")
    if not dist.is_initialized():
        dist.init_process_group("nccl" if trainer.device.type == "cuda" else "gloo")
    rank = dist.get_rank()
    from thermogan.train import rng

    replicas = DataParallel(rank, size)
    trainer.replicas = replicas
    if trainer.device.type == "cuda":  # batch norm over the whole batch (not on CPU: gloo)
        for net in (trainer.G, trainer.D):
            nn.SyncBatchNorm.convert_sync_batchnorm(net)
    for name, generator in trainer.rngs.items():
        if name not in SHARED_STREAMS and rank > 0:
            generator.manual_seed(rng.derive(seed, f"{name}@rank{rank}"))
    for optimizer in _optimizers(trainer):
        optimizer.register_step_pre_hook(
            lambda opt, args, kwargs: replicas.average_gradients(opt))
    if trainer.d_variance is not None:
        trainer.d_variance = _AveragedVariance(trainer.d_variance, replicas)
    with torch.no_grad():  # equal by construction (same seed); made certain
        for module in (trainer.G, trainer.D, trainer.G_ema, trainer.temperings,
                       trainer.term_modules, trainer.term_levels, trainer.optim_levels):
            for t in (*module.parameters(), *module.buffers()) if module is not None else ():
                dist.broadcast(t, 0)


def shutdown() -> None:
    """Leave the process group, if this process joined one."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
