"""What a seed sweep needs, counted before it is built: memory for its members, disk for their
run folders. ``thermogan train CONFIG --seeds 0-100000`` is refused in one line, not left to grow
until the machine kills it.

A member's memory is its state and its activations. State: G's and D's weights, their gradients
and Adam's two moments (4 copies), and G's EMA copy (1 more). Activations: every layer's output of
one G pass on the batch and two D passes (real and generated), kept for the backward pass and
met by a gradient of the same size (2 copies); they are measured by hooks on one forward pass of
two samples, scaled to the batch. Besides, each member's Python objects (modules, optimizers,
random generators, the step's temporaries) take about ``OVERHEAD_BYTES``. A seed ensemble holds
every member at once; seeds trained one after another hold one. Each run folder holds a
checkpoint (the state but the gradients) and about ``FOLDER_BYTES`` of figures, snapshots and
logs.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import torch
from torch import nn

from thermogan.errors import UsageError
from thermogan.step import discriminate
from thermogan.train.trainer import Trainer

#: A member's Python objects and temporaries besides its tensors: 300 tiny MLP members (32x32)
#: held 0.25 MB of resident memory each after 3 ensemble steps, of which the count above gives 0.14
OVERHEAD_BYTES = 2**18

#: Figures, level snapshots and logs of one run folder, besides its checkpoint (a ring run of
#: 12,000 steps writes about 1.5 MB)
FOLDER_BYTES = 2 * 2**20


def _layer_bytes(net: nn.Module, run: object) -> int:
    """Bytes of every leaf layer's output while ``run()`` calls ``net``."""
    total = 0

    def count(_module: nn.Module, _inputs: object, output: object) -> None:
        nonlocal total
        if isinstance(output, torch.Tensor):
            total += output.numel() * output.element_size()

    hooks = [m.register_forward_hook(count) for m in net.modules() if not list(m.children())]
    try:
        with torch.no_grad():
            run()  # type: ignore[operator]
    finally:
        for hook in hooks:
            hook.remove()
    return total


def _param_bytes(net: nn.Module) -> int:
    return sum(p.numel() * p.element_size() for p in net.parameters())


def member_bytes(trainer: Trainer, batch_size: int) -> tuple[int, int]:
    """(memory, checkpoint) bytes of one member of ``trainer``'s config (module doc). The probe
    draws from its own generator with the networks in eval mode: the trainer's random streams
    and batch-norm statistics are untouched. It draws two of D's packs (two samples without
    packing), the least batch D takes."""
    probe, nets = 2 * getattr(trainer.D, "packs", 1), (trainer.G, trainer.D)
    modes = [net.training for net in nets]
    try:
        for net in nets:
            net.eval()
        gen = torch.Generator(trainer.device).manual_seed(0)
        made = []  # G's samples of the probe, which D then reads
        g_act = _layer_bytes(trainer.G, lambda: made.append(trainer.generate(probe, gen)))
        d_act = _layer_bytes(trainer.D, lambda: discriminate(trainer.D, made[0].x, made[0].y))
    finally:
        for net, mode in zip(nets, modes):
            net.train(mode)
    g, d = _param_bytes(trainer.G), _param_bytes(trainer.D)
    activations = 2 * (g_act + 2 * d_act) * batch_size // probe
    return 5 * g + 4 * d + activations + OVERHEAD_BYTES, 4 * g + 3 * d


def available_memory(device: torch.device) -> int:
    """Bytes the device can still give: a GPU's free memory, else the host's available memory."""
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0]
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def _free_disk(folder: Path) -> int:
    existing = next(p for p in (folder.absolute(), *folder.absolute().parents) if p.exists())
    return shutil.disk_usage(existing).free


def _size(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000:
            return f"{n:.3g} {unit}"
        n /= 1000
    return f"{n:.3g} TB"


def check_sweep_fits(trainer: Trainer, batch_size: int, members: int, run_dir: Path,
                     together: bool) -> None:
    """Raise UsageError when ``members`` seeds of ``trainer``'s config (as one ensemble when
    ``together``) cannot fit in memory, or their run folders on the disk of ``run_dir``."""
    memory, checkpoint = member_bytes(trainer, batch_size)
    held = members if together else 1
    have = available_memory(trainer.device)
    if memory * held > have:
        most = max(have // memory, 1)
        raise UsageError(f"--seeds: {members} seeds as one ensemble need about "
                         f"{_size(memory * held)} of memory ({_size(memory)} each), and "
                         f"{_size(have)} is available; train at most {most} seeds at once")
    disk, free = (checkpoint + FOLDER_BYTES) * members, _free_disk(run_dir)
    if disk > free:
        raise UsageError(f"--seeds: the run folders of {members} seeds need about "
                         f"{_size(disk)} of disk ({_size(checkpoint + FOLDER_BYTES)} each), "
                         f"and {run_dir} has {_size(free)} free")
