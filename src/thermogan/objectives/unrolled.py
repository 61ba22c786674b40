"""Unrolled GAN (Metz et al. 2017, "Unrolled Generative Adversarial Networks"), a G term.

G's loss is taken against D as it would be after k more steps of D's own optimizer on the same
batch, and differentiated through those steps:

    θ_D⁰ = θ_D,   θ_Dⁱ⁺¹ = U(θ_Dⁱ, ∇_θ L_D(θ_Dⁱ; x_real, G(z)), sⁱ)   (i < k),
    G minimises  L_G(G(z); θ_Dᵏ(θ_G)),

U being D's optimizer's update with its state s (Adam's moments, from the live optimizer: the
paper unrolls with the optimizer D trains with), x_real the real batch D's last step saw and
G(z) the G step's batch. The dependence of θ_Dᵏ on θ_G (the second-order term) is what tells G
how D would answer its move, so it does not chase D's current weak spot; ``second_order:
false`` drops it (the unrolled steps see G(z) detached), the paper's cheaper variant, which
then is a plain G step against the unrolled D. D itself still takes its ordinary steps.

Why a G term: the training step already gives G its adversarial loss L_G(θ_D) against the
current D, and a G term sees what this needs: the generated batch with G's graph, the record of
the last D step (the real batch as D saw it) and D. The term is

    L_G(G(z); θ_Dᵏ) − L_G(G(z); θ_D),

so with weight 1 G's total loss is the unrolled loss (the two L_G(θ_D) cancel: their gradients
up to rounding); weight 0 is the plain GAN, and a weight between mixes the two. The unrolled
parameters are a dict handed to ``torch.func.functional_call``; nothing is saved in the
checkpoint (they are rebuilt at every G step from D and its optimizer's state), and the term's
calls run on a copy of D's buffers (batch norm's statistics, spectral norm's power iteration),
so D's own are left as they were (also in place: a graph that saved them stays valid).
Cost: k D steps of forward and backward, twice that with the second-order term.

What it cannot do, refused when the run is built: a D optimizer other than Adam or SGD (SGLD
draws noise), a gradient penalty (it would be differentiated three times), and a tempering of
G's samples (the term sees G(z) as it is, not as D sees it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import Tensor, nn
from torch.func import functional_call

from thermogan.data.batch import Batch
from thermogan.optim import functional
from thermogan.step import DStep, LossTerms, Player


def _call(discriminator: nn.Module, params: Mapping[str, Tensor], buffers: dict[str, Tensor],
          x: Tensor, y: Tensor | None) -> Tensor:
    """D's logits (B, 1) with ``params`` and ``buffers`` in place of its own."""
    return functional_call(discriminator, (dict(params), buffers), (x,) if y is None else (x, y))


class Unrolled:
    """The unrolled G term (see the module docstring): ``steps`` k unrolled D steps of
    ``d_optimizer``'s update with ``loss``'s D loss."""

    name = "unrolled"
    weight_minimum = 0.0
    #: it reads D's optimizer state from D's own optimizer, which stacked members bring up to
    #: date before their G terms (train/members.py)
    reads_d_optimizer = True

    def __init__(self, data: object, steps: int = 10, second_order: bool = True, *,
                 d_optimizer: torch.optim.Optimizer, loss: LossTerms,
                 penalty: object = None, temperings: Sequence[nn.Module] = ()) -> None:
        if steps < 1:
            raise ValueError(f"steps={steps!r}: must be >= 1 (for none, leave the term out)")
        try:
            functional.check(d_optimizer)
        except ValueError as err:
            raise ValueError(f"kind=unrolled: optim.d: {err}; use adam or sgd") from None
        if penalty is not None:
            raise ValueError(f"kind=unrolled: the gradient penalty ({type(penalty).__name__}) "
                             "would be differentiated three times; set objective.penalty's "
                             "weight to 0 or choose another loss")
        if any("fake" in getattr(t, "sides", ()) for t in temperings):
            raise ValueError("kind=unrolled: a tempering acts on G's samples, which the unrolled "
                             "D would not see; use a tempering of the real side only, or none")
        self.steps, self.second_order = steps, second_order
        self.optimizer, self.loss = d_optimizer, loss

    def players(self) -> list[Player]:
        return []

    def __call__(self, fake: Batch, d: DStep, discriminator: nn.Module) -> Tensor:
        if d.real_seen is None:
            raise ValueError("the unrolled term needs the D step's real batch (DStep.real_seen)")
        named = dict(discriminator.named_parameters())
        buffers = {n: b.clone() for n, b in discriminator.named_buffers()}  # the calls' own
        unrolled = self._unroll(named, buffers, fake, d, discriminator)
        ahead = self.loss.g_term(_call(discriminator, unrolled, buffers, fake.x, fake.y)).mean()
        now = self.loss.g_term(_call(discriminator, named, buffers, fake.x, fake.y)).mean()
        return ahead - now

    def _unroll(self, named: Mapping[str, nn.Parameter], buffers: dict[str, Tensor],
                fake: Batch, d: DStep, discriminator: nn.Module) -> dict[str, Tensor]:
        """θ_Dᵏ: k updates of D's optimizer from its current parameters and state, a function
        of G's parameters through ``fake.x`` when ``second_order``."""
        rule = functional.Functional(self.optimizer, named)
        x = fake.x if self.second_order else fake.x.detach()  # (B, ...)
        params = {n: p.detach().requires_grad_(True) for n, p in named.items()}
        with torch.enable_grad():
            for _ in range(self.steps):
                real_terms = self.loss.real_term(_call(discriminator, params, buffers, d.real_seen,
                                                       d.real.y))
                fake_terms = self.loss.fake_term(_call(discriminator, params, buffers, x, fake.y))
                d_loss = real_terms.mean() + fake_terms.mean()
                grads = torch.autograd.grad(d_loss, list(params.values()),
                                            create_graph=self.second_order)
                params = rule.step(params, dict(zip(params, grads)))
                if not self.second_order:
                    params = {n: p.detach().requires_grad_(True) for n, p in params.items()}
        return params
