"""Instance noise in a loop of your own: the same Gaussian noise on both sides of D, its std
falling linearly from 0.5 to 0 over the first 80 % of the run (the baseline of β-GAN's bench).

A tempering acts on the sides it names (``noise.sides``: real and fake), at the level of the step
that ``set_step`` gives it, drawing its noise from the generator passed to it.

    python examples/instance_noise.py [--steps 3000]
"""

import argparse

import torch

from thermogan import DATASETS, InstanceNoise, get_loss, mlp, mode_coverage

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--steps", type=int, default=3000)
steps = parser.parse_args().steps

torch.manual_seed(0)
data = DATASETS["ring"]()
noise = InstanceNoise.for_run(steps, data, std_start=0.5, anneal_fraction=0.8)
loss, stream = get_loss("minimax"), torch.Generator().manual_seed(0)
G, D = mlp(2, 2, hidden=(128, 128)), mlp(2, 1, hidden=(128, 128))
g_opt, d_opt = (torch.optim.Adam(m.parameters(), 1e-3, betas=(0.5, 0.999)) for m in (G, D))
for step in range(steps):
    noise.set_step(step)
    real = noise(data.sample(256).x, generator=stream)       # (256, 2)
    fake = G(torch.randn(256, 2))
    d_opt.zero_grad()
    loss.d(D(real), D(noise(fake.detach(), generator=stream))).backward(); d_opt.step()
    g_opt.zero_grad(); loss.g(D(noise(fake, generator=stream))).backward(); g_opt.step()
print(noise.describe(), mode_coverage(G(torch.randn(2500, 2)), data.centers, data.std))
