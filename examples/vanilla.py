"""A plain GAN in a loop of your own: the library's data, networks and losses, nothing else.

The reference loop every method below changes in one place, and the README's loop. It prints the
modes covered, the share of high-quality samples and the reverse KL of 2,500 samples.

    python examples/vanilla.py [--steps 3000]
"""

import argparse

import torch

from thermogan import DATASETS, d_loss, g_loss, mlp, mode_coverage

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--steps", type=int, default=3000)
steps = parser.parse_args().steps

torch.manual_seed(0)
data = DATASETS["ring"]()                                    # 8 Gaussians, radius 1, std 0.01
G, D = mlp(2, 2, hidden=(128, 128)), mlp(2, 1, hidden=(128, 128))   # D returns a logit
g_opt, d_opt = (torch.optim.Adam(m.parameters(), 1e-3, betas=(0.5, 0.999)) for m in (G, D))
for step in range(steps):
    real, fake = data.sample(256).x, G(torch.randn(256, 2))
    d_opt.zero_grad(); d_loss("minimax", D(real), D(fake.detach())).backward(); d_opt.step()
    g_opt.zero_grad(); g_loss("nonsaturating", D(fake)).backward(); g_opt.step()
print(mode_coverage(G(torch.randn(2500, 2)), data.centers, data.std))   # varies by seed
