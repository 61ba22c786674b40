"""tiny-GAN: GAN training as a (non)autonomous dynamical system (Mehrjou & Schölkopf 2018, §2–4).

State (θ, ψ, α): the generator is a Dirac δ_θ, the data a Dirac δ_α, the discriminator linear,
D(x) = ψx, and the objective ``L = f(ψθ) + f(−ψα)`` (θ descends L, ψ ascends it). In the paper's
convention D gives *high* values to fakes; the usual convention (real high) is ψ → −ψ.

- Autonomous GAN (eq. 6): α ≡ α_r, θ' = −ψ f'(ψθ), ψ' = θ f'(ψθ) − α f'(−ψα).
- Nonautonomous GAN (eq. 8): α follows the annealing drift of eq. 7,
  α(t) = (α_0 − α_r) e^{−t/T} + α_r, and, with the switch λ = 1 (β'-GAN), the GAN objective too:
  α' = λ·s·ψ f'(−ψα) + (α_r − α_0)/T · e^{−t/T}.
  With ``coupling_sign`` s = +1 (our default) α descends L, as the generator does; this
  reproduces the paper's Fig. 1(b), an oscillation about the wrong equilibrium (2, 0, 2). The sign
  printed in eq. 8 is s = −1, under which θ − α stays constant and ψ grows without bound.
- Closed form for f(y) = y, λ = 0, ψ(0) = 0, θ(0) = α(0) (our derivation; the signs of the
  paper's eqs. 13–14 are flipped, the amplitude is not): with a = 1/T, K = (α_r − α_0)/T,
  ψ(t) = K/(1 + a²) · (cos t − a sin t − e^{−at}),
  θ(t) = θ(0) − K/(1 + a²) · (sin t + a cos t − a − 1/a + e^{−at}/a),
  so both oscillate with the steady amplitude |K| / sqrt(1 + a²), θ about α_r.

Solutions use scipy's ``solve_ivp`` (DOP853) at tight tolerances.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
from scipy.integrate import solve_ivp


def _linear(y: float) -> float:
    return y


def _js(y: float) -> float:
    return -float(np.logaddexp(0.0, -y))  # −log(1 + e^{−y}), stable


OBJECTIVES: dict[str, Callable[[float], float]] = {"linear": _linear, "js": _js}
DERIVATIVES: dict[str, Callable[[float], float]] = {
    "linear": lambda y: 1.0,
    "js": lambda y: 1.0 / (1.0 + math.exp(y)) if y > -700 else 1.0,  # sigmoid(−y)
}


def derivative(f: str | Callable[[float], float]) -> Callable[[float], float]:
    """f' for a named objective (exact) or any callable (central difference, error ~1e-10)."""
    if isinstance(f, str):
        if f not in DERIVATIVES:
            raise ValueError(f"f={f!r}: must be one of {', '.join(DERIVATIVES)} or a callable")
        return DERIVATIVES[f]

    def numeric(y: float) -> float:
        h = 1e-5 * max(1.0, abs(y))
        return (f(y + h) - f(y - h)) / (2 * h)

    return numeric


@dataclass(frozen=True)
class TinyGAN:
    """One tiny-GAN system: objective f, annealing (α_0 → α_r over T), coupling switch λ.

    ``annealing=False`` is the autonomous system of eq. 6 (α fixed at ``alpha_r``).
    """

    f: str | Callable[[float], float] = "linear"
    alpha_r: float = 3.0
    alpha_0: float = 1.0
    T: float = 3.0
    lam: int = 0
    coupling_sign: int = 1
    annealing: bool = True

    def __post_init__(self) -> None:
        if self.lam not in (0, 1):
            raise ValueError(f"lam={self.lam!r}: the switch λ is 0 (β-GAN) or 1 (β'-GAN)")
        if self.coupling_sign not in (-1, 1):
            raise ValueError(f"coupling_sign={self.coupling_sign!r}: must be +1 or -1")
        if self.annealing and not self.T > 0:
            raise ValueError(f"T={self.T!r}: must be > 0")
        derivative(self.f)  # checks the name

    def drift(self, t: float) -> float:
        """The annealing term of α' (eq. 7 differentiated); 0 for the autonomous system."""
        if not self.annealing:
            return 0.0
        return (self.alpha_r - self.alpha_0) / self.T * math.exp(-t / self.T)

    def rhs(self, t: float, state: np.ndarray) -> list[float]:
        """(θ', ψ', α') at time t."""
        theta, psi, alpha = state
        fp = derivative(self.f)
        g_fake, g_real = fp(psi * theta), fp(-psi * alpha)
        d_alpha = self.lam * self.coupling_sign * psi * g_real + self.drift(t)
        return [-psi * g_fake, theta * g_fake - alpha * g_real, d_alpha]

    def solve(self, state0: tuple[float, float, float], t_end: float,
              t_eval: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Times (n,) and states (n, 3) from ``state0`` = (θ, ψ, α) at t = 0 to ``t_end``."""
        if not t_end > 0:
            raise ValueError(f"t_end={t_end!r}: must be > 0")
        if t_eval is None:
            t_eval = np.linspace(0.0, t_end, max(2, int(40 * t_end) + 1))
        sol = solve_ivp(self.rhs, (0.0, t_end), list(state0), method="DOP853", t_eval=t_eval,
                        rtol=1e-11, atol=1e-12)
        if not sol.success:
            raise RuntimeError(f"solve_ivp failed: {sol.message}")
        return sol.t, sol.y.T

    def with_(self, **changes: object) -> TinyGAN:
        return replace(self, **changes)


def closed_form(t: np.ndarray, T: float, alpha_0: float = 1.0, alpha_r: float = 3.0,
                theta_0: float | None = None) -> np.ndarray:
    """States (n, 3) of the linear β-GAN (f(y) = y, λ = 0, ψ(0) = 0, θ(0) = α(0) = α_0)."""
    theta_0 = alpha_0 if theta_0 is None else theta_0
    t = np.asarray(t, dtype=np.float64)
    a, K = 1.0 / T, (alpha_r - alpha_0) / T
    c = K / (1 + a * a)
    psi = c * (np.cos(t) - a * np.sin(t) - np.exp(-a * t))
    theta = theta_0 - c * (np.sin(t) + a * np.cos(t) - a - 1 / a + np.exp(-a * t) / a)
    alpha = (alpha_0 - alpha_r) * np.exp(-t / T) + alpha_r
    return np.stack([theta, psi, alpha], axis=1)


def steady_amplitude(T: float, alpha_0: float = 1.0, alpha_r: float = 3.0) -> float:
    """|K| / sqrt(1 + a²): the amplitude of the persistent oscillation of θ and ψ."""
    a, K = 1.0 / T, (alpha_r - alpha_0) / T
    return abs(K) / math.sqrt(1 + a * a)


def numeric_amplitude(system: TinyGAN, state0: tuple[float, float, float],
                      periods: int = 3, settle: float = 12.0) -> float:
    """Half the peak-to-peak of ψ over the last ``periods`` periods (2π) after the transient.

    The run lasts ``settle``·T + 2π·periods, so the transient e^{−t/T} has decayed by e^{−settle}
    before the window.
    """
    if not settle > 0:
        raise ValueError(f"settle={settle!r}: must be > 0")
    window = 2 * math.pi * periods
    t_end = settle * max(system.T, 1.0) + window
    t_eval = np.linspace(t_end - window, t_end, 4000 * periods)
    _, states = system.solve(state0, t_end, t_eval)
    psi = states[:, 1]
    return float((psi.max() - psi.min()) / 2)
