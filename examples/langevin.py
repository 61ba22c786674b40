"""A Langevin discriminator (Ramakers, Kollmann & Harmeling) in a loop of your own: D steps by
SGLD, whose noise follows the variance of D's per-example gradients (an example is a pair of one
real and one generated sample).

A ``Recorder`` takes that variance from D's own backward pass (one pass, no per-example loop).
Prints the mean injected noise std and the mean √I_t per weight.

    python examples/langevin.py [--steps 3000]
"""

import argparse

import torch

from thermogan import DATASETS, get_loss, mlp
from thermogan.optim.sgld import SGLD
from thermogan.optim.variance import Recorder, by_parameter

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--steps", type=int, default=3000)
steps = parser.parse_args().steps

torch.manual_seed(0)
data, loss = DATASETS["ring"](), get_loss("minimax")
G, D = mlp(2, 2, hidden=(128, 128)), mlp(2, 1, hidden=(128, 128))
g_opt = torch.optim.Adam(G.parameters(), 1e-3, betas=(0.5, 0.999))
d_opt = SGLD(D.parameters(), lr=0.1, temperature=0.01, noise="covariance",
             generator=torch.Generator().manual_seed(1))    # Σ = 2·lr·T·I_t (the paper's)
recorder = Recorder(D)                  # D's layers' inputs and output gradients, while inside
for step in range(steps):
    real, fake = data.sample(256).x, G(torch.randn(256, 2))
    with recorder:
        d_real, d_fake = D(real), D(fake.detach())
    d_opt.zero_grad(); loss.d(d_real, d_fake).backward()   # the mean over 256 (real, fake) pairs
    d_opt.set_variance(by_parameter(D, recorder.variance(256, scale=256)))  # per-pair V
    d_opt.step()
    g_opt.zero_grad(); loss.g(D(fake)).backward(); g_opt.step()
print(d_opt.noise_level())              # mean injected std and mean √I_t per weight
