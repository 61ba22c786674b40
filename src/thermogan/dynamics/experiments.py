"""The two tiny-GAN experiments behind `thermogan dynamics`: the paper's Fig. 1 and the oscillation
amplitude against the annealing time T (Mehrjou & Schölkopf 2018, §3–4)."""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from thermogan.dynamics.tinygan import TinyGAN, numeric_amplitude, steady_amplitude
from thermogan.report.dynamics import amplitude_plot, combined_panels, trajectory_panel


@dataclass(frozen=True)
class Figure1Options:
    """Settings of Fig. 1; the defaults are the paper's."""

    f: str = "linear"
    alpha_r: float = 3.0
    alpha_0: float = 1.0
    T: float = 3.0  # panels (b) and (c)
    T_slow: float = 30.0  # panel (d)
    init: tuple[float, float, float] = (1.0, 0.0, 1.0)  # (θ, ψ, α) for (b)–(d)
    init_autonomous: tuple[float, float] = (1.0, 2.0)  # (θ, ψ) for (a)
    horizon: float = 60.0  # panels (a)–(c)
    horizon_slow: float = 150.0  # panel (d): 5 T, so that α nearly reaches α_r
    coupling_sign: int = 1


def figure1(out: Path, opt: Figure1Options = Figure1Options()) -> list[Path]:
    """Panels (a)–(d) of Fig. 1 as PNGs, one each and a combined one; returns their paths."""
    base = TinyGAN(opt.f, opt.alpha_r, opt.alpha_0, opt.T, coupling_sign=opt.coupling_sign)
    systems = [
        ("a_autonomous", "(a) autonomous GAN, α = α_r",
         base.with_(annealing=False), (*opt.init_autonomous, opt.alpha_r), opt.horizon),
        ("b_beta_prime_gan", f"(b) β'-GAN (λ = 1), T = {opt.T:g}", base.with_(lam=1), opt.init,
         opt.horizon),
        ("c_beta_gan", f"(c) β-GAN (λ = 0), T = {opt.T:g}", base, opt.init, opt.horizon),
        ("d_beta_gan_slow", f"(d) β-GAN (λ = 0), T = {opt.T_slow:g}", base.with_(T=opt.T_slow),
         opt.init, opt.horizon_slow),
    ]
    out.mkdir(parents=True, exist_ok=True)
    paths, runs = [], []
    for slug, title, system, state0, horizon in systems:
        t, states = system.solve(state0, horizon)
        paths.append(trajectory_panel(t, states, title, out / f"figure1_{slug}.png"))
        runs.append((title, t, states))
    paths.append(combined_panels(runs, out / "figure1.png"))
    return paths


def amplitude_table(T_values: list[float], f: str = "linear", lam: int = 0,
                    alpha_r: float = 3.0, alpha_0: float = 1.0,
                    init: tuple[float, float, float] | None = None,
                    coupling_sign: int = 1, settle: float = 12.0) -> list[dict[str, float]]:
    """Numeric and (where it applies) analytic steady amplitude for each T."""
    state0 = init or (alpha_0, 0.0, alpha_0)
    closed = f == "linear" and lam == 0 and state0 == (alpha_0, 0.0, alpha_0)
    rows = []
    for T in T_values:
        system = TinyGAN(f, alpha_r, alpha_0, T, lam, coupling_sign)
        numeric = numeric_amplitude(system, state0, settle=settle)
        analytic = steady_amplitude(T, alpha_0, alpha_r) if closed else math.nan
        rows.append({"T": T, "numeric": numeric, "analytic": analytic,
                     "relative_error": abs(numeric - analytic) / analytic if closed else math.nan})
    return rows


def write_amplitude(rows: list[dict[str, float]], out: Path, alpha_0: float = 1.0,
                    alpha_r: float = 3.0) -> list[Path]:
    """amplitude.csv, amplitude.json and the log–log amplitude.png."""
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "amplitude.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    (out / "amplitude.json").write_text(json.dumps(
        [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()}
         for r in rows], indent=2) + "\n")
    T = np.array([r["T"] for r in rows])
    curve = None
    if all(math.isfinite(r["analytic"]) for r in rows):
        dense = np.geomspace(T.min(), T.max(), 200)
        curve = (dense, np.array([steady_amplitude(x, alpha_0, alpha_r) for x in dense]))
    png = amplitude_plot(T, np.array([r["numeric"] for r in rows]), out / "amplitude.png", curve)
    return [out / "amplitude.csv", out / "amplitude.json", png]


def format_table(rows: list[dict[str, float]]) -> str:
    lines = [f"{'T':>8} {'numeric':>12} {'analytic':>12} {'rel. error':>11}"]
    for r in rows:
        lines.append(f"{r['T']:>8g} {r['numeric']:>12.6g} {r['analytic']:>12.6g} "
                     f"{r['relative_error']:>11.2e}")
    return "\n".join(lines)
