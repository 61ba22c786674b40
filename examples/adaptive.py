"""β-GAN with an adaptive temperature in a loop of your own: instead of a schedule, a
controller sets β from what D says (the rule of StyleGAN2-ADA, Karras et al. 2020): D sure of
the real data (E[sign D(real)] above 0.6) → hotter, unsure → colder. It starts hot (u = 1, β
at 0.1) and u can cross [0, 1] in 500,000 real images.

After each D step the controller observes the record of that step (``DStep``: here the real
batch and D's logits on it); from 80 % of the run on, β is ∞ (the data), as in the scheduled run.
Prints the heat u, the last E[sign D], β and the modes of G.

    python examples/adaptive.py [--steps 12000]
"""

import argparse

import torch

from thermogan import DATASETS, Batch, Controller, DStep, Heat, get_loss, mlp, mode_coverage

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--steps", type=int, default=12000)
steps = parser.parse_args().steps

torch.manual_seed(0)
data = DATASETS["ring"]().in_box(-1, 1)
heat = Heat.for_run(steps, data, cold_std=2, beta={"kind": "adaptive", "start": 1})
controllers = [m for m in heat.modules() if isinstance(m, Controller)]   # β's controller
loss, noise = get_loss("minimax"), torch.Generator().manual_seed(0)
G, D = mlp(2, 2, hidden=(128, 128)), mlp(2, 1, hidden=(128, 128))
g_opt, d_opt = (torch.optim.Adam(m.parameters(), 1e-3, betas=(0.5, 0.999)) for m in (G, D))
for step in range(steps):
    heat.set_step(step)
    x = data.sample(256).x
    real, fake = heat(x, generator=noise), G(torch.randn(256, 2))
    d_real = D(real)                                         # (256, 1) logits
    d_opt.zero_grad(); loss.d(d_real, D(fake.detach())).backward(); d_opt.step()
    for controller in controllers:                           # D's certainty moves the heat u
        controller.observe(DStep(Batch(x), real_logits=d_real.detach().squeeze(1)))
    g_opt.zero_grad(); loss.g(D(fake)).backward(); g_opt.step()
print({**controllers[0].describe(), **heat.describe()},
      mode_coverage(G(torch.randn(2500, 2)), data.centers, data.std))
