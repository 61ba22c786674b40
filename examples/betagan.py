"""β-GAN (Mehrjou & Saremi 2017) in a loop of your own: D is trained against heated data, from
the uniform box (β = 0) through 20 geometric levels of β down to the data themselves.

The cold end comes from the data (``cold_std=2``: the last level's noise is twice the data's
std). G's moving average restarts at every new temperature level, as the trainer's does. Prints
the schedule's last level and the average's modes, high-quality share and reverse KL.

    python examples/betagan.py [--steps 12000]
"""

import argparse

import torch
from torch.optim.swa_utils import AveragedModel

from thermogan import DATASETS, Heat, get_loss, mlp, mode_coverage
from thermogan.train.ema import warmed_ema

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--steps", type=int, default=12000)   # spread over 22 stages and levels
steps = parser.parse_args().steps

torch.manual_seed(0)
data = DATASETS["ring"]().in_box(-1, 1)                      # β-GAN heats data inside a box
heat = Heat.for_run(steps, data, cold_std=2)  # uniform box, 20 cooling levels, then the data
loss, noise = get_loss("minimax"), torch.Generator().manual_seed(0)
G, D = mlp(2, 2, hidden=(128, 128)), mlp(2, 1, hidden=(128, 128))
g_opt, d_opt = (torch.optim.Adam(m.parameters(), 1e-3, betas=(0.5, 0.999)) for m in (G, D))
ema = AveragedModel(G, multi_avg_fn=warmed_ema(0.999))  # G's moving average, its decay warmed up
for step in range(steps):
    heat.set_step(step)
    real = heat(data.sample(256).x, generator=noise)        # heated real data, (256, 2)
    fake = G(torch.randn(256, 2))
    d_opt.zero_grad(); loss.d(D(real), D(fake.detach())).backward(); d_opt.step()
    g_opt.zero_grad(); loss.g(D(fake)).backward(); g_opt.step()
    if step > 0 and heat.level_key(step) != heat.level_key(step - 1):
        ema.n_averaged.zero_()        # a new temperature: the average starts again from G
    ema.update_parameters(G)
with torch.no_grad():
    print(heat.describe(), mode_coverage(ema.module(torch.randn(2500, 2)), data.centers, data.std))
