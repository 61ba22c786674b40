"""An adaptive temperature over training: the heat u the controller set, and what moved it, D's
certainty r = E[sign D(real as seen)] against its target (``tempering/control.Adaptive``; read
from the run's metrics.jsonl: ``heat_u``, ``sign_r``, ``sign_target``)."""

from __future__ import annotations

from pathlib import Path

from matplotlib.figure import Figure

from thermogan.report.curves import logged
from thermogan.report.figures import add_footer, save_figure

CAPTION = ("Adaptive temperature (ADA-style): every few D steps the heat u moves by a fixed step "
           "towards hotter when D is surer of the real data than the target (r above it), colder "
           "otherwise; the tempering's level is u mapped between its cold and hot ends. Values "
           "are the log lines' (r: the last update's).")


def adaptive_panel(run_dir: str | Path, path: str | Path | None = None) -> Path | None:
    """``figures/adaptive.png``: u and r over training; None when the run logged no heat."""
    steps, heat = logged(run_dir, "heat_u")
    if not len(steps):
        return None
    r_steps, r = logged(run_dir, "sign_r")
    target = float(logged(run_dir, "sign_target")[1][-1])
    fig = Figure(figsize=(7.5, 5.2), layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True)
    top.plot(steps, heat, lw=1.2, color="tab:red")
    top.set_ylabel("heat u")
    top.set_ylim(-0.03, 1.03)
    bottom.plot(r_steps, r, lw=1, color="tab:blue", label="r = E[sign D(real)]")
    bottom.axhline(target, color="black", ls="--", lw=1, label=f"target {target:g}")
    bottom.set_ylabel("r")
    bottom.set_xlabel("training step")
    bottom.legend(fontsize=8, loc="lower right")
    for ax in (top, bottom):
        ax.grid(alpha=0.3)
    fig.suptitle(f"{Path(run_dir).name}: adaptive temperature", fontsize=10)
    add_footer(fig, CAPTION)
    return save_figure(fig, path or Path(run_dir) / "figures" / "adaptive.png")
