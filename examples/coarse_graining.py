"""Coarse-graining (Ramakers, Kollmann & Harmeling, eq. 9) in a loop of your own: D sees real
and generated images through the same Gaussian blur, σ = 1 pixel fading linearly to 0 over the
first half of the run, so that early on the two overlap and D's gradients say where the data are.

The images are made up on the spot (8 × 8, one bright row, at random: 8 modes), so the script
needs no download. Prints the blur's last σ and how many of the 8 rows G's images cover. It shows
the wiring, not an effect: a GAN this small collapses onto one or two rows with or without the
blur (tried at σ = 0, 1 and 2); what the blur does on MNIST is measured in docs/langevin.md.

    python examples/coarse_graining.py [--steps 3000]
"""

import argparse

import torch

from thermogan import Linear, get_loss, mlp
from thermogan.tempering.blur import Blur

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--steps", type=int, default=3000)
steps = parser.parse_args().steps


def bars(n: int) -> torch.Tensor:
    """(n, 1, 8, 8) images in [-1, 1], each with one bright row."""
    x = torch.full((n, 1, 8, 8), -1.0)
    x[torch.arange(n), 0, torch.randint(0, 8, (n,))] = 1.0
    return x


torch.manual_seed(0)
blur, loss = Blur(Linear(1.0, 0.0, steps // 2)), get_loss("minimax")   # σ in pixels
G, D = mlp(16, 64, hidden=(128, 128)), mlp(64, 1, hidden=(128, 128))
g_opt, d_opt = (torch.optim.Adam(m.parameters(), 1e-3, betas=(0.5, 0.999)) for m in (G, D))
for step in range(steps):
    blur.set_step(step)
    real, fake = bars(128), torch.tanh(G(torch.randn(128, 16))).view(-1, 1, 8, 8)
    seen_real, seen_fake = blur(real).flatten(1), blur(fake).flatten(1)   # both sides, (128, 64)
    d_opt.zero_grad(); loss.d(D(seen_real), D(seen_fake.detach())).backward(); d_opt.step()
    g_opt.zero_grad(); loss.g(D(seen_fake)).backward(); g_opt.step()
with torch.no_grad():
    rows = torch.tanh(G(torch.randn(2000, 16))).view(-1, 8, 8).mean(2)   # (2000, 8) row means
    bright = rows.argmax(1)[(rows > 0).sum(1) == 1]          # samples with exactly one bright row
print(blur.describe(), f"rows covered {bright.unique().numel()}/8,",
      f"one-bar images {len(bright) / len(rows):.0%}")
