"""The figures hold what they were given: their size, their ink, their panels, and the points
and images drawn in them (panels counted as ``helpers.panels_of`` does, on the saved Figure)."""

import json
import math

import numpy as np
import pytest
from helpers import (
    assert_figure,
    assert_laid_out,
    assert_legends_outside,
    caption_of,
    captions,
    capture_figures,
    ink_fraction,
    legend_labels,
    panels_of,
    read_png,
)
from matplotlib.collections import PathCollection
from PIL import Image

from thermogan.bench import lens as bench_lens
from thermogan.bench import oscillation as bench_oscillation
from thermogan.bench import study as bench_study
from thermogan.report.curves import metric_curves
from thermogan.report.dynamics import amplitude_plot, combined_panels, mathtext, trajectory_panel
from thermogan.report.figures import data_vs_samples, side_by_side
from thermogan.report.images import class_rows, image_panels, tile
from thermogan.report.snapshots import level_panel, snapshot_panel, snapshot_rows


@pytest.fixture
def saved(monkeypatch):
    return capture_figures(monkeypatch)


def figure_of(saved, path):
    return saved[path.resolve()]


def points(ax):
    """The number of points of each scatter of ``ax``, in drawing order."""
    return [len(c.get_offsets()) for c in ax.collections if isinstance(c, PathCollection)]


def images(n, c=1, h=8, w=8, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, (n, c, h, w)).astype(np.float32)


def write_shots(folder, shots):
    """Snapshots as ``Snapshots`` saves them: ``folder/step_N.npz``."""
    folder.mkdir(parents=True, exist_ok=True)
    for shot in shots:
        np.savez(folder / f"step_{int(shot['step']):09d}.npz", **shot)


def test_tile_puts_each_image_in_its_cell_between_grey_borders():
    pictures = np.arange(5 * 2 * 3, dtype=np.float32).reshape(5, 1, 2, 3) / 15 - 1  # in [-1, 1)
    out = tile(pictures)  # ceil(sqrt(5)) = 3 columns, 2 rows
    assert out.shape == (2 * 3 + 1, 3 * 4 + 1, 1)
    expected = np.full(out.shape, 0.85, dtype=np.float32)
    for i in range(5):
        r, q = divmod(i, 3)
        expected[1 + 3 * r: 3 + 3 * r, 1 + 4 * q: 4 + 4 * q, 0] = (pictures[i, 0] + 1) / 2
    np.testing.assert_allclose(out, expected)
    rgb = np.stack([np.full((2, 2), -1.0), np.zeros((2, 2)), np.full((2, 2), 3.0)])[None]
    out = tile(np.repeat(rgb, 2, axis=0), cols=1)  # one column: stacked; channels last, clipped
    assert out.shape == (7, 4, 3)
    np.testing.assert_allclose(out[4:6, 1:3], np.broadcast_to([0.0, 0.5, 1.0], (2, 2, 3)))
    assert (out[3] == 0.85).all() and (out[:, 0] == 0.85).all()


def test_image_panels_draws_each_grid_once_in_rows_of_cols(tmp_path, saved):
    grids = [(f"grid {i}", images(4 + i, seed=i)) for i in range(4)] + [("rgb", images(9, c=3))]
    path = image_panels(grids, tmp_path / "panels.png", cols=3)
    pixels = assert_figure(path, min_size=(800, 600), panels=5, min_ink=0.2, saved=saved)
    assert pixels.shape[:2] == (649, 858)  # 2 rows of 3 grids of 2.6 + 0.35 inches, at 110 dpi
    axes = panels_of(figure_of(saved, path))
    for ax, (name, grid) in zip(axes, grids):
        assert ax.get_title() == name
        shown = tile(grid)
        np.testing.assert_allclose(ax.images[0].get_array(), shown[..., 0] if grid.shape[1] == 1
                                   else shown)


def test_class_rows_shows_a_row_of_tiles_per_class(tmp_path, saved):
    samples = images(4 * 3, h=6, w=5)
    path = class_rows(samples, [7, 1, 3, 9], tmp_path / "classes.png", "by class")
    assert_figure(path, min_size=(300, 300), panels=1, min_ink=0.2, saved=saved)
    (ax,) = panels_of(figure_of(saved, path))
    shown = ax.images[0].get_array()
    assert shown.shape == (4 * (6 + 1) + 1, 3 * (5 + 1) + 1)  # 4 rows of 3 tiles
    np.testing.assert_allclose(shown, tile(samples, cols=3)[..., 0])
    assert [t.get_text() for t in ax.texts] == ["7", "1", "3", "9"]


@pytest.mark.parametrize("dim, views", [(1, 1), (2, 1), (3, 3), (5, 3)])
def test_data_vs_samples_shows_every_point_in_each_view(tmp_path, saved, dim, views):
    rng = np.random.default_rng(dim)
    data, samples = rng.normal(size=(300, dim)), rng.normal(size=(200, dim)) + 1
    path = data_vs_samples(data, samples, tmp_path / "samples.png", "title")
    pixels = assert_figure(path, min_size=(500, 500), panels=views, min_ink=0.02, saved=saved)
    assert pixels.shape[:2] == (528, 504 * views)  # 4.2 × 4.4 inches per view at 120 dpi
    for ax in panels_of(figure_of(saved, path)):
        if dim == 1:  # two histograms over the same 79 bins
            assert len(ax.patches) == 2 * 79 and not ax.collections
        else:
            assert points(ax) == [300, 200]


def test_side_by_side_is_one_panel_per_run(tmp_path, saved):
    rng = np.random.default_rng(0)
    runs = [("a", rng.normal(size=(50, 2)), rng.normal(size=(40, 2))),
            ("b", rng.normal(size=(60, 2)), rng.normal(size=(30, 2))),
            ("c", rng.normal(size=(70, 1)), rng.normal(size=(20, 1)))]
    path = side_by_side(runs, tmp_path / "compare.png")
    assert_figure(path, min_size=(1500, 500), panels=3, saved=saved)
    axes = panels_of(figure_of(saved, path))
    assert [ax.get_title() for ax in axes] == ["a", "b", "c"]
    assert points(axes[0]) == [50, 40] and points(axes[1]) == [60, 30]
    assert len(axes[2].patches) == 2 * 79


def test_metric_curves_is_one_line_per_run(tmp_path, saved):
    steps = np.arange(10, 110, 10)
    runs = [(f"run {i}", steps, np.exp(-steps / 50) + i) for i in range(3)]
    path = metric_curves(runs, tmp_path / "curves.png", ylabel="fd", log_y=True)
    assert_figure(path, min_size=(900, 500), panels=1, saved=saved)
    (ax,) = panels_of(figure_of(saved, path))
    assert [line.get_label() for line in ax.lines] == ["run 0", "run 1", "run 2"]
    np.testing.assert_allclose(ax.lines[2].get_ydata(), runs[2][2])
    assert ax.get_yscale() == "log"


LAMBDA = ("Λ: the cumulative number of gradient evaluations, counted as parameter updates = "
          "steps × (D steps + 1); here 1 D step per step")


def level_shots(dim, outlier=1000.0):
    """Five level snapshots (β from 0 to ∞, 1 D step per step) of ``dim``-D points; one sample
    of the third lies far away."""
    rng = np.random.default_rng(0)
    shots = [{"real": rng.normal(size=(80, dim)), "fake": rng.normal(size=(60, dim)),
              "step": s, "updates": 2 * s, "beta": beta, "stage": 0, "weight": math.nan}
             for s, beta in zip(range(10, 60, 10), (0.0, 0.5, 2.0, 8.0, math.inf))]
    shots[2]["fake"][0] = outlier
    return shots


@pytest.mark.parametrize("dim", [1, 2, 3])
def test_level_panel_is_one_panel_per_level_snapshot(tmp_path, saved, dim):
    shots = level_shots(dim)
    write_shots(tmp_path / "figures" / "levels", shots)
    path = level_panel(tmp_path, cols=3)
    assert path == tmp_path / "figures" / "levels.png"
    assert_figure(path, min_size=(800, 550), panels=5, saved=saved)
    axes = panels_of(figure_of(saved, path))
    assert axes[0].get_title().startswith("β = 0") and axes[-1].get_title().startswith("β = ∞")
    for ax in axes:
        assert (len(ax.patches) == 2 * 59) if dim == 1 else (points(ax) == [80, 60])
    assert level_panel(tmp_path / "elsewhere") is None
    assert "Drawn:" not in caption_of(figure_of(saved, path))[0]  # every level is drawn


def test_many_levels_draw_at_most_most_spread_evenly_and_say_so(tmp_path, saved):
    shots = [{**shot, "step": 10 * (i + 1), "updates": 20 * (i + 1)}  # 20 level ends
             for i, shot in enumerate(level_shots(2) * 4)]
    write_shots(tmp_path / "figures" / "levels", shots)
    path = level_panel(tmp_path, most=6)
    fig = figure_of(saved, path)
    titles = [ax.get_title() for ax in panels_of(fig)]
    # the first and the last kept, the others spread evenly: ends 1, 5, 9, 12, 16, 20
    assert [t.split("Λ = ")[1] for t in titles] == ["20", "100", "180", "240", "320", "400"]
    assert "Drawn: 6 of the 20 level ends, spread evenly" in caption_of(fig)[0]
    assert_laid_out(fig, [*panels_of(fig), fig._suptitle, *fig.legends, *captions(fig)])


def test_points_keep_their_shape_and_the_run_its_name(tmp_path, saved):
    """A circle stays a circle (one unit as long on both axes), and the figure carries the name
    the run's config gives (reports use it), not its folder's."""
    write_shots(tmp_path / "figures" / "levels", level_shots(2))
    fig = figure_of(saved, level_panel(tmp_path, cols=3, title="ring8_betagan"))
    assert fig.get_suptitle().startswith("ring8_betagan: ")
    assert all(ax.get_aspect() == 1.0 for ax in panels_of(fig))


@pytest.mark.figures
def test_a_run_without_tempering_draws_no_levels(tiny_config, tmp_path):
    from thermogan.cli import main

    assert main(["train", str(tiny_config), "--out", str(tmp_path / "run"),
                 "train.steps=20"]) == 0
    assert sorted(p.name for p in (tmp_path / "run" / "figures").iterdir()) == ["samples.png"]


@pytest.mark.parametrize("dim", [1, 2, 3])
def test_level_panel_explains_itself(tmp_path, saved, dim):
    write_shots(tmp_path / "figures" / "levels", level_shots(dim))
    fig = figure_of(saved, level_panel(tmp_path, cols=3))
    axes = panels_of(fig)
    # the run, what the colours are, and what Λ counts
    assert fig.get_suptitle().startswith(f"{tmp_path.name}: ")
    assert legend_labels(fig) == ["what D saw as real (heated data)", "G's samples"]
    assert LAMBDA in caption_of(fig)[0] and "same limits in every panel" in caption_of(fig)[0]
    # labelled axes with the same limits everywhere, set by the bulk and not by the outlier
    names = ["x1", "density", None] if dim == 1 else ["x1", "x2", "x3"][:dim] + [None] * (3 - dim)
    for ax in axes:
        assert [ax.get_xlabel(), ax.get_ylabel(), getattr(ax, "get_zlabel", lambda: None)()] == \
            names
    limits = [(ax.get_xlim(), ax.get_ylim() if dim > 1 else None) for ax in axes]
    assert all(limit == limits[0] for limit in limits)
    assert 2 < -limits[0][0][0] < 6 and 2 < limits[0][0][1] < 6  # N(0, 1), not the 1000
    # nothing overlaps or is cut off: panels, suptitle, legend, caption
    if dim != 3:  # a 3-D panel's tight box leaves out its title, which the layout moves inside
        assert_laid_out(fig, [*axes, fig._suptitle, *fig.legends, *captions(fig)])


def test_level_panel_of_many_coordinates_draws_the_first_two(tmp_path, saved):
    write_shots(tmp_path / "figures" / "levels", level_shots(5))
    path = level_panel(tmp_path, title="five")
    assert_figure(path, min_size=(1400, 300), panels=5, saved=saved)
    fig = figure_of(saved, path)
    assert fig.get_suptitle().startswith("five: ")
    assert "Drawn: the first two of 5 coordinates." in caption_of(fig)[0]
    for ax in panels_of(fig):
        assert points(ax) == [80, 60] and (ax.get_xlabel(), ax.get_ylabel()) == ("x1", "x2")
    assert_laid_out(fig, [*panels_of(fig), fig._suptitle, *fig.legends, *captions(fig)])


def test_level_panel_of_images_shows_the_samples_and_what_d_saw(tmp_path, saved):
    shots = [{"real": images(4, seed=s), "fake": images(6, seed=10 + s), "step": s,
              "updates": 2 * s, "beta": float(s), "stage": 0, "weight": math.nan}
             for s in (1, 2, 3, 4)]
    write_shots(tmp_path / "figures" / "levels", shots)
    path = level_panel(tmp_path, title="digits")
    titles = {"levels.png": "digits: G's samples at the end of each temperature level",
              "levels_seen.png": "digits: what D saw as real (heated data) at the end of each "
                                 "temperature level"}
    for name, key in (("levels.png", "fake"), ("levels_seen.png", "real")):
        assert_figure(path.with_name(name), min_size=(1000, 300), panels=4, min_ink=0.1,
                      saved=saved)
        fig = figure_of(saved, path.with_name(name))
        for ax, shot in zip(panels_of(fig), shots):
            np.testing.assert_allclose(ax.images[0].get_array(), tile(shot[key])[..., 0])
        assert " ".join(fig.get_suptitle().split()) == titles[name]
        assert caption_of(fig) == [LAMBDA]
        assert_laid_out(fig, [*panels_of(fig), fig._suptitle, *captions(fig)])


def test_snapshot_rows_leaves_a_step_missing_from_a_row_empty(tmp_path, saved):
    shots = [{"step": np.array(s), "weight": np.array(w), "real": images(4, seed=s),
              "fake": images(4, seed=10 + s)} for s, w in ((5, 0.9), (10, 0.1))]
    path = snapshot_rows([("G(z)", shots, "fake"), ("L(x)", shots[1:], "real")],
                         tmp_path / "rows.png", "title")
    assert_figure(path, min_size=(400, 400), panels=3, min_ink=0.1, saved=saved)
    fig = figure_of(saved, path)
    assert len(fig.axes) == 4  # the missing cell is an empty, switched-off Axes
    g5, g10, l10 = panels_of(fig)
    assert g5.get_title() == "step 5\nλ = 0.90" and l10.get_title() == ""
    np.testing.assert_allclose(g10.images[0].get_array(), tile(shots[1]["fake"])[..., 0])
    np.testing.assert_allclose(l10.images[0].get_array(), tile(shots[1]["real"])[..., 0])


def test_snapshot_panel_spreads_at_most_eight_steps_over_two_rows(tmp_path, saved):
    shots = [{"step": s, "weight": 1 - s / 100, "real": images(4, seed=s),
              "fake": images(4, seed=100 + s), "updates": 2 * s, "beta": math.inf, "stage": 0}
             for s in range(10, 110, 10)]
    write_shots(tmp_path / "figures" / "snapshots", shots)
    path = snapshot_panel(tmp_path)
    assert_figure(path, min_size=(1500, 400), panels=16, min_ink=0.1, saved=saved)
    axes = panels_of(figure_of(saved, path))
    steps = [int(ax.get_title().split("\n")[0].removeprefix("step ")) for ax in axes[:8]]
    assert steps[0] == 10 and steps[-1] == 100 and steps == sorted(set(steps))
    rng = np.random.default_rng(0)
    points = [{**shot, "real": rng.normal(size=(50, 2)), "fake": rng.normal(size=(40, 2))}
              for shot in shots[:3]]
    write_shots(tmp_path / "vectors" / "figures" / "snapshots", points)
    # vectors (once: npz written, no figure): one scatter per snapshot, titled with step and λ
    path = snapshot_panel(tmp_path / "vectors")
    assert_figure(path, min_size=(400, 150), panels=3, saved=saved)
    axes = panels_of(figure_of(saved, path))
    assert [ax.get_title() for ax in axes] == ["step 10, λ = 0.90", "step 20, λ = 0.80",
                                               "step 30, λ = 0.70"]
    assert [len(c.get_offsets()) for c in axes[0].collections] == [50, 40]
    assert snapshot_panel(tmp_path / "none") is None


def test_dynamics_figures_show_each_trajectory(tmp_path, saved):
    t = np.linspace(0, 10, 200)
    states = np.stack([np.cos(t), np.sin(t), np.ones_like(t)], axis=1)
    path = trajectory_panel(t, states, "one", tmp_path / "one.png")
    assert_figure(path, min_size=(1000, 350), panels=2, saved=saved)
    over_time, phase = panels_of(figure_of(saved, path))
    assert [len(line.get_xdata()) for line in over_time.lines] == [200] * 3
    np.testing.assert_allclose(phase.lines[0].get_ydata(), states[:, 1])
    path = combined_panels([(f"run {i}", t, states * i) for i in (1, 2)], tmp_path / "all.png")
    assert_figure(path, min_size=(900, 600), panels=4, saved=saved)
    T = np.array([1.0, 3.0, 10.0, 30.0])
    path = amplitude_plot(T, 1 / T, tmp_path / "amplitude.png", (T, 1.1 / T))
    assert_figure(path, min_size=(500, 400), panels=1, saved=saved)
    (ax,) = panels_of(figure_of(saved, path))
    assert [len(line.get_xdata()) for line in ax.lines] == [4, 4]


def test_dynamics_figures_explain_themselves(tmp_path, saved):
    t = np.linspace(0, 60, 600)
    states = np.stack([3 + 2 * np.sin(t), 2 * np.cos(t), np.full_like(t, 3.0)], axis=1)
    paths = [trajectory_panel(t, states, "(a) autonomous GAN, α = α_r", tmp_path / "one.png"),
             combined_panels([("(a) α = α_r", t, states), ("(b) T = 3", t, states / 2)],
                             tmp_path / "all.png"),
             amplitude_plot(np.array([1.0, 10.0]), np.array([1.0, 0.1]), tmp_path / "amp.png",
                            (np.array([1.0, 10.0]), np.array([1.1, 0.11])))]
    for path in paths:
        fig = figure_of(saved, path)
        assert fig.get_suptitle()
        assert all(ax.get_ylabel() for ax in panels_of(fig))
        assert_legends_outside(fig)  # off the curves
        assert_laid_out(fig, [*panels_of(fig), fig._suptitle])
    one = figure_of(saved, paths[0])
    assert one.get_suptitle() == r"Tiny GAN: (a) autonomous GAN, α = $\alpha_{r}$"
    over_time, phase = panels_of(one)
    assert legend_labels(over_time) == [r"$\theta$ (generator)", r"$\psi$ (discriminator)",
                                        r"$\alpha$ (data)"]
    assert (phase.get_xlabel(), phase.get_ylabel()) == (r"generator $\theta$",
                                                        r"discriminator $\psi$")
    assert panels_of(figure_of(saved, paths[1]))[0].get_title() == r"(a) α = $\alpha_{r}$"
    assert "Fig. 1" in figure_of(saved, paths[1]).get_suptitle()


def test_mathtext_writes_one_letter_subscripts_only():
    assert mathtext("α = α_r, α_0 and x_1") == r"α = $\alpha_{r}$, $\alpha_{0}$ and $x_{1}$"
    assert mathtext("snake_case, β'-GAN (λ = 1)") == "snake_case, β'-GAN (λ = 1)"


def test_modes_figure_is_one_panel_per_data_set_and_method_of_seed_0(tmp_path, saved):
    rng = np.random.default_rng(0)
    results = [{"data": d, "method": m, "seed": s, "data_points": rng.normal(size=(90, 2)),
                "samples": rng.normal(size=(70, 2)), "modes": 8, "high_quality": 0.5,
                "reverse_kl": 0.1} for d in ("ring8", "grid25") for m in ("a", "b", "c")
               for s in (0, 1)]
    path = bench_study.figure(results, tmp_path / "modes.png")
    assert_figure(path, min_size=(900, 700), panels=6, saved=saved)
    for ax in panels_of(figure_of(saved, path)):
        assert points(ax) == [90, 70]


def test_oscillation_figure_shows_the_curves_of_seed_0_and_the_amplitudes(tmp_path, saved):
    steps = list(range(4, 44, 4))
    results = [{"levels": k, "seed": s, "steps": steps, "fd_mnist": [50.0 + i % 3 for i in steps],
                "filtered": [50.0] * 10, "knee_step": 12, "amplitude": 1.0 + s}
               for k in (2, 4, 8) for s in (0, 1)]
    (path,) = bench_oscillation.figures(results, tmp_path)
    assert_figure(path, min_size=(1300, 500), panels=2, saved=saved)
    curves, amplitudes = panels_of(figure_of(saved, path))
    assert len(curves.lines) == 3 * 3  # raw, filtered and the knee of each K, seed 0 only
    assert sorted(points(amplitudes))[-3:] == [2, 2, 2]  # both seeds' amplitudes at each K


def test_lens_curves_and_evolution_show_each_arm(tmp_path, saved):
    results = []
    for data in ("mnist", "stacked"):
        for i, arm in enumerate(("lens", "adaptive", "none")):
            lensed = arm != "none"
            run_dir = tmp_path / f"{data}_{arm}"
            shots = [{"step": s, "weight": 0.5 if lensed else math.nan, "real": images(4, seed=s),
                      "fake": images(4, seed=10 * i + s)} for s in (4, 8, 12)]
            write_shots(run_dir / "figures" / "snapshots", shots)
            results.append({"data": data, "variant": "gan", "arm": arm, "seed": 0,
                            "steps": [4, 8, 12], "curve": [30.0, 20.0, 10.0 + i],
                            "horizon": 6 if lensed else None, "run_dir": run_dir})
    path = bench_lens.curves(results, tmp_path / "curves.png")
    assert_figure(path, min_size=(1000, 450), panels=2, saved=saved)
    for ax in panels_of(figure_of(saved, path)):
        assert len(ax.lines) == 3 * 2 + 2  # per arm: the seed and the mean; K dashed for 2 arms
        labels = ax.get_legend_handles_labels()[1]
        assert [label for label in labels if label.startswith("tempering")] == [
            "tempering: none (mean of 1)", "tempering: lens (mean of 1)",
            "tempering: lens, adaptive λ (mean of 1)"]
    paths = bench_lens.evolution(results, tmp_path)
    assert [p.name for p in paths] == ["evolution_mnist_gan.png", "evolution_stacked_gan.png"]
    for path in paths:
        # rows: G(z) and L(x) with the lens, G(z) without, G(z) with an adaptive λ
        assert_figure(path, min_size=(500, 800), panels=4 * 3, min_ink=0.1, saved=saved)


def test_the_checker_fails_a_blank_small_or_miscounted_figure(tmp_path, saved):
    blank = image_panels([("", np.ones((9, 1, 8, 8)))], tmp_path / "white.png")  # all white
    assert ink_fraction(read_png(blank)) < 0.01
    with pytest.raises(AssertionError, match="blank"):
        assert_figure(blank)
    grid = image_panels([("a", images(4)), ("b", images(4))], tmp_path / "grid.png", cols=2)
    assert_figure(grid, min_size=(500, 300), panels=2, saved=saved)
    with pytest.raises(AssertionError, match="pixels, less than"):
        assert_figure(grid, min_size=(2000, 300))
    with pytest.raises(AssertionError, match="has 2 panels, not 3"):
        assert_figure(grid, panels=3, saved=saved)
    with pytest.raises(AssertionError, match="no Figure was recorded"):
        assert_figure(grid, panels=2, saved={})
    Image.fromarray(np.zeros((300, 300, 3), np.uint8)).save(tmp_path / "jpeg.png", "JPEG")
    with pytest.raises(AssertionError, match="is a JPEG, not a PNG"):
        assert_figure(tmp_path / "jpeg.png")
    with pytest.raises(AssertionError, match="was not written"):
        assert_figure(tmp_path / "missing.png")


def _contour_run(run, noise=True, steps=(100, 200, 300, 400, 500, 600), std=1e-3):
    """A run folder with 2-D snapshots holding D's logits on a grid, and its metrics.jsonl."""
    folder = run / "figures" / "snapshots"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    xs, ys = np.linspace(-1.5, 1.5, 30), np.linspace(-1, 1, 20)
    for step in steps:
        np.savez(folder / f"step_{step:09d}.npz", real=rng.normal(size=(200, 2)),
                 fake=rng.normal(size=(200, 2)), step=step, weight=math.nan, grid_x=xs,
                 grid_y=ys, d_logits=np.add.outer(ys, xs) * step / 100)
    lines = [{"step": s, "d_loss": 1.0, **({"d_noise_std": std, "d_sqrt_variance": 0.02 + s / 1e4}
                                           if noise else {})} for s in steps]
    (run / "metrics.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))


@pytest.mark.parametrize("noise", [True, False])
def test_contour_panel_shows_a_third_two_thirds_the_end_and_the_noise(tmp_path, saved, noise):
    from thermogan.report.contours import contour_panel

    _contour_run(tmp_path / "run", noise)
    out = contour_panel(tmp_path / "run")
    assert out == tmp_path / "run" / "figures" / "contours.png"
    assert_figure(out, min_size=(600, 300), panels=3 + noise, saved=saved)
    titles = [ax.get_title() for ax in figure_of(saved, out).axes]
    assert titles[:3] == ["step 200", "step 400", "step 600"]
    assert ("D's noise level" in titles) == noise
    assert contour_panel(tmp_path / "elsewhere") is None  # no snapshots, no figure


def test_a_d_without_noise_draws_only_the_series_it_has(tmp_path, saved):
    """SGLD at temperature 0 logs a noise std of 0: that series is left out of the log-scaled
    panel (which would otherwise warn and show nothing); the √I_t series stays."""
    import warnings

    from thermogan.report.contours import contour_panel

    _contour_run(tmp_path / "run", std=0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = contour_panel(tmp_path / "run")
    noise_ax = next(ax for ax in figure_of(saved, out).axes if ax.get_title() == "D's noise level")
    assert [line.get_label() for line in noise_ax.get_lines()] == ["mean √I_t"]


def test_d_on_grid_is_d_at_each_grid_point(tiny_config):
    import torch

    from thermogan.experiment import build, config
    from thermogan.report.snapshots import d_on_grid

    trainer = build.build_trainer(config.load(tiny_config))
    real = trainer.data.sample(100).x
    grid = d_on_grid(trainer, real, size=7)
    assert grid["d_logits"].shape == (7, 7)
    lo, hi = real.min(0).values.numpy(), real.max(0).values.numpy()
    assert grid["grid_x"][0] < lo[0] and grid["grid_x"][-1] > hi[0]  # the data and a margin
    assert grid["grid_y"][0] < lo[1] and grid["grid_y"][-1] > hi[1]
    for i, j in ((0, 0), (2, 5), (6, 1)):  # row i: y, column j: x
        point = torch.tensor([[grid["grid_x"][j], grid["grid_y"][i]]], dtype=torch.float32)
        with torch.no_grad():
            assert grid["d_logits"][i, j] == pytest.approx(float(trainer.D(point)), abs=1e-6)
    assert d_on_grid(trainer, torch.randn(10, 3)) == {}  # 3-D points: no contour grid
