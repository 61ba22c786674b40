"""The lens of Tempered Adversarial Networks (Sajjadi et al. 2018) in a loop of your own: a
learned tempering L between the data and D, trained by its own player against D with a
reconstruction term, λ(t)·L_adv + ‖x − L(x)‖², with λ(t) decaying to 0.

D's loss sees ``lens(x).detach()``; the lens's step runs after D's, with D fixed, and reads the
real batch from the record of the D step (``DStep``). Prints the lens's last losses.

    python examples/lens.py [--steps 3000]
"""

import argparse

import torch

from thermogan import DATASETS, Batch, DStep, Lens, get_loss, mlp

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--steps", type=int, default=3000)
steps = parser.parse_args().steps

torch.manual_seed(0)
data = DATASETS["ring"]()
lens = Lens.for_run(steps, data, width=64, blocks=2, lr=1e-3)  # λ(t) decays to 0 over 10,000
(lens_step,) = lens.players()
loss = get_loss("minimax")
G, D = mlp(2, 2, hidden=(128, 128)), mlp(2, 1, hidden=(128, 128))
g_opt, d_opt = (torch.optim.Adam(m.parameters(), 1e-3, betas=(0.5, 0.999)) for m in (G, D))
for step in range(steps):
    lens.set_step(step)
    x, fake = data.sample(256).x, G(torch.randn(256, 2))
    real = lens(x)                                           # L(x), kept for the lens's step
    d_opt.zero_grad(); loss.d(D(real.detach()), D(fake.detach())).backward(); d_opt.step()
    logs = lens_step.update(DStep(Batch(x)), D, loss)        # λ·L_adv + ‖x − L(x)‖², D fixed
    g_opt.zero_grad(); loss.g(D(fake)).backward(); g_opt.step()
print({k: round(v.item(), 4) for k, v in logs.items()})
