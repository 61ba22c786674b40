"""Variational annealing's score regulariser (Tao et al. 2019) in a loop of your own: G's loss
gains −λ·mean ⟨G(z), stopgrad S(G(z))⟩, S the data's score ∇ log μ, which moves G's optimum to
ρ* ∝ μ^(1+λ): λ > 0 sharpens the data, −1 < λ < 0 broadens them.

λ is a schedule of the step; held at 3 here, G's std goes from the data's 1 to 1/√(1 + λ) = 0.5
(variational annealing proper moves λ to 0 over the run: ``LinearToZero(3.0, steps)`` is NMA).
Prints G's std.

    python examples/variational.py [--steps 3000]
"""

import argparse

import torch

from thermogan import DATASETS, Batch, Constant, get_loss, mlp
from thermogan.objectives.variational import ScoreRegulariser

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--steps", type=int, default=3000)
steps = parser.parse_args().steps

torch.manual_seed(0)
data, loss, lam = DATASETS["gauss1d"](mean=1.0, std=1.0), get_loss("rkl"), Constant(3.0)
G, D = mlp(1, 1, hidden=()), mlp(1, 1, hidden=(64, 64), activation="tanh")   # G affine
g_opt, d_opt = (torch.optim.Adam(m.parameters(), 2e-3, betas=(0.5, 0.999)) for m in (G, D))
score = ScoreRegulariser(data)          # −mean ⟨G(z), stopgrad ∇ log μ(G(z))⟩, μ's closed form
for step in range(steps):
    real, fake = data.sample(512).x, G(torch.randn(512, 1))
    d_opt.zero_grad(); loss.d(D(real), D(fake.detach())).backward(); d_opt.step()
    g_loss = loss.g(D(fake)) + lam(step) * score(Batch(fake), None, D)
    g_opt.zero_grad(); g_loss.backward(inputs=list(G.parameters())); g_opt.step()
print(G(torch.randn(20000, 1)).std().item())   # ρ* ∝ μ^(1+λ): std → 1/√(1+λ) = 0.5
