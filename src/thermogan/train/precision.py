"""Mixed precision of the training step (``train.amp: bf16``): G's and D's forward passes in
bfloat16, everything between them in float32.

``Autocast(amp, device)(net)`` is ``net`` as the training step calls it: with ``amp="bf16"``, a
forward pass under ``torch.autocast(device.type, torch.bfloat16)`` (matrix products and
convolutions in bfloat16, reductions and normalisations as autocast chooses) whose output is
cast back to float32; with ``amp=None``, ``net`` itself. So only the networks' insides are
bfloat16: what the temperings see and return, the logits, the losses, the G terms, the players and
the gradient penalty's pass stay in float32 (the penalty differentiates D twice, where bfloat16
rounding would compound), and the backward pass runs outside autocast, in the dtype each forward
op had (PyTorch's AMP recipe). bfloat16 has float32's exponent range, so gradients need no loss
scaling; float16 would need a ``GradScaler``, and is not offered. Sampling and evaluation call the
networks directly: their samples are float32.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

#: The values of ``train.amp`` and the dtype each runs the forward passes in.
AMP = {"bf16": torch.bfloat16}


class _Autocast(nn.Module):
    """``net`` with its forward pass under autocast and its output in float32."""

    def __init__(self, net: nn.Module, device_type: str, dtype: torch.dtype) -> None:
        super().__init__()
        self.net, self.device_type, self.dtype = net, device_type, dtype

    def forward(self, *args: Any) -> torch.Tensor:
        with torch.autocast(self.device_type, dtype=self.dtype):
            out = self.net(*args)
        return out.float()


class Autocast:
    """The networks of a training step at its precision: ``amp`` is None (as they are) or "bf16"
    (see the module docstring)."""

    def __init__(self, amp: str | None, device: torch.device | str) -> None:
        if amp is not None and amp not in AMP:
            raise ValueError(f"amp={amp!r}: expected None or one of {', '.join(AMP)}")
        self.amp = amp
        self.device_type = torch.device(device).type

    def __call__(self, net: nn.Module) -> nn.Module:
        """``net`` as the training step calls it."""
        if self.amp is None:
            return net
        return _Autocast(net, self.device_type, AMP[self.amp])
