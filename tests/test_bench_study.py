"""Studies as files (``bench/study.py``): a user's six-line study runs end to end, with the
table, statistics and page of a bench; a grid expands into methods; a bad key is one line."""

import json
from pathlib import Path

from thermogan.bench import study
from thermogan.cli import main

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
