"""Studies as files (``bench/study.py``): a user's six-line study runs end to end, with the
table, statistics and page of a bench; a grid expands into methods; a bad key is one line."""

import json
import math
from pathlib import Path

import pytest
from helpers import assert_figure, caption_of, capture_figures, panels_of

from thermogan.bench import study
from thermogan.cli import main
from thermogan.errors import ConfigError

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
USER_STUDY = """\
datasets: [ring8]
methods:
  vanilla: {config: "{data}_vanilla.yaml"}
  β-GAN: {config: "{data}_betagan.yaml", grid: {tempering.cold_std: [1, 2]}}
baseline: vanilla
steps: 40
"""


def test_a_users_six_line_study_runs_end_to_end(tmp_path, capsys):
    file, out = tmp_path / "cold.yaml", tmp_path / "out"
    file.write_text(USER_STUDY)
    assert len(USER_STUDY.splitlines()) == 6
    assert main(["study", str(file), "--seeds", "2", "--workers", "1", "--configs", str(CONFIGS),
                 "--out", str(out), "--html", str(tmp_path / "page.html")]) == 0
    result = json.loads((out / "results.json").read_text())
    names = ["vanilla", "β-GAN (tempering.cold_std=1)", "β-GAN (tempering.cold_std=2)"]
    assert [row["method"] for row in result["summary"]] == names
    assert len(result["runs"]) == 6 and {r["seed"] for r in result["runs"]} == {0, 1}
    cold = study.read(file).methods[names[2]]
    assert cold == ("{data}_betagan.yaml", ("tempering.cold_std=2",))
    assert "cold_std: 2" in (out / "runs/ring8/β_GAN__tempering_cold_std_2/seed1/config.yaml"
                             ).read_text()
    base, *others = result["summary"]
    assert "modes_p" not in base and base["modes_ci"][0] <= base["modes"] <= base["modes_ci"][1]
    for row in others:  # two rows times the tested metrics, each against vanilla
        assert row["baseline"] == "vanilla"
        for key in ("modes", "high_quality", "reverse_kl"):
            p, holm = row[f"{key}_p"], row[f"{key}_p_holm"]
            if p != "nan":  # no test where a value is not finite (reverse KL inf)
                assert 0 < p <= holm <= 1
    table = (out / "results.md").read_text()
    assert "Mann-Whitney U" in table and "p (Holm)" in table
    page = (tmp_path / "page.html").read_text()
    assert "95 % interval" in page and "vanilla" in page
    assert "report:" in capsys.readouterr().out


def test_a_bad_study_key_is_one_line_naming_the_closest(tmp_path, capsys):
    file = tmp_path / "bad.yaml"
    file.write_text(USER_STUDY.replace("baseline:", "baselin:"))
    assert main(["study", str(file), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "did you mean 'baseline'" in err and len(err.splitlines()) == 1
    file.write_text(USER_STUDY.replace("baseline: vanilla", "baseline: plain"))
    assert main(["study", str(file), "--out", str(tmp_path / "out")]) == 2
    assert "plain" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def _records(method, modes, kl):
    return [{"data": "ring8", "method": method, "seed": s, "modes": m, "reverse_kl": k,
             "wall_s": 1.0} for s, (m, k) in enumerate(zip(modes, kl))]


def test_the_effects_figure_draws_each_row_minus_the_baseline_with_its_interval(tmp_path,
                                                                                  monkeypatch):
    saved = capture_figures(monkeypatch)
    file = tmp_path / "effects.yaml"
    file.write_text(USER_STUDY + "figure: effects\npaired: true\ncolumns: [{key: modes}, "
                    "{key: reverse_kl, title: reverse KL}]\n")
    bench = study.bench(study.read(file), "cold")
    results = (_records("vanilla", [6, 7, 5, 6], [0.5, 0.4, 0.6, 0.5])
               + _records("β-GAN (tempering.cold_std=1)", [8, 8, 8, 8], [0.1, 0.2, 0.1, 0.2])
               + _records("β-GAN (tempering.cold_std=2)", [6, 8, 5, 7], [math.inf] * 4))
    (path,) = bench.figures(results, tmp_path, bench.protocol)
    assert path == tmp_path / "cold_effects.png"
    assert_figure(path, min_size=(700, 200), panels=2, saved=saved)
    fig = saved[path.resolve()]
    modes, kl = panels_of(fig)
    # ordered by the effect on modes, the largest on top: cold_std=1 (+2), then cold_std=2 (+0.5)
    at = {round(y): t.get_text() for y, t in zip(modes.get_yticks(), modes.get_yticklabels())}
    assert at == {1: "β-GAN (tempering.cold_std=1)", 0: "β-GAN (tempering.cold_std=2)"}
    bars = {round(b.get_y() + b.get_height() / 2): b for b in modes.patches}
    assert bars[1].get_width() == pytest.approx(2.0) and bars[0].get_width() == pytest.approx(0.5)
    # per seed +2, +1, +3, +2: an interval that leaves 0 (dark); +0, +1, +0, +1 holds 0 (light)
    assert bars[1].get_facecolor() != bars[0].get_facecolor()
    (bar,) = kl.patches  # cold_std=2's KL is infinite: no bar, a note instead
    assert bar.get_width() == pytest.approx(0.15 - 0.5)
    assert "not finite" in [t.get_text().strip() for t in kl.texts]
    assert "minus vanilla's" in caption_of(fig)[0] and "paired by seed" in caption_of(fig)[0]
    file.write_text(USER_STUDY.replace("baseline: vanilla\n", "") + "figure: effects\n")
    with pytest.raises(ConfigError, match="figure: effects draws each method against the "
                                          "baseline"):
        study.read(file)
