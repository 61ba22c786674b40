"""Configs: overrides, strictness, error messages, round trip."""

import pytest

from thermogan.errors import ConfigError
from thermogan.experiment import config


def test_defaults_and_overrides(tiny_config):
    cfg = config.load(tiny_config, ["train.steps=50", "optim.g.lr=2e-4", "data.std=0.02",
                                    "model.generator.hidden=[16]"])
    assert cfg.train.steps == 50 and float(cfg.optim.g.options()["lr"]) == 2e-4
    assert cfg.optim.d.options() == {"lr": 1e-3, "betas": [0.5, 0.999]}  # the default's
    assert cfg.data.options() == {"std": 0.02}
    assert cfg.model.generator.options()["hidden"] == [16]
    assert cfg.model.discriminator.options()["hidden"] == [32, 32]  # untouched
    assert cfg.train.batch_size == 32  # from the file


def test_resolved_config_round_trips(tiny_config, tmp_path):
    cfg = config.load(tiny_config, ["train.ema=null"])
    config.save(cfg, tmp_path / "out.yaml")
    again = config.load(tmp_path / "out.yaml")
    assert again == cfg and again.train.ema is None


@pytest.mark.parametrize("override, words", [
    ("train.stpes=3", ["unknown key 'train.stpes'", "did you mean 'train.steps'"]),
    ("trian.steps=3", ["unknown key 'trian'", "'train'"]),
    ("train.steps=-3", ["train.steps=-3", "greater than 0"]),
    ("train.steps=many", ["train.steps='many'", "integer"]),
    ("train.batch_size=0", ["train.batch_size=0"]),
    ("train.ema=1.5", ["train.ema=1.5"]),
    ("optim.g_lr=2e-4", ["optim.g_lr was replaced by optim.g.lr", "kind: adam"]),
    ("optim.betas=[0.5, 0.9]", ["optim.betas was replaced by optim.g.betas and optim.d.betas"]),
    ("objective.g_terms=[{kind: score}]", ["objective.g_terms was replaced by the top-level key "
                                           "regulariser"]),
    ("tempering=[{kind: heat}, 3]", ["tempering"]),
    ("optim.lr_decay={kind: linear, start: 1, end: 0, steps: 0}", ["optim.lr_decay.steps=0"]),
    ("model.z_dist=cauchy", ["model.z_dist='cauchy'"]),
    ("train", ["KEY=VALUE"]),
    ("train.steps.x=1", ["'train.steps' is a value"]),
])
def test_bad_overrides_give_one_line_naming_the_key(tiny_config, override, words):
    with pytest.raises(ConfigError) as info:
        config.load(tiny_config, [override])
    message = str(info.value)
    assert "\n" not in message
    for word in words:
        assert word in message


def test_bad_files(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        config.load(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("train: [unclosed\n")
    with pytest.raises(ConfigError, match="bad.yaml, line 2, column 1"):
        config.load(bad)


@pytest.mark.parametrize("content, words", [
    ("train:\n  steps: [1, 2\n", ["line 3, column 1", "expected ',' or ']'"]),  # line, column kept
    ("train:\n  steps: 10\n  steps: 20\n", ["line 3", "duplicate key 'steps'"]),  # not last-wins
    ("", ["is empty"]),  # once trained the defaults silently
    (b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe", ["not a text (UTF-8) file"]),  # once UnicodeDecodeError
    ("- a\n- b\n", ["expected a mapping of keys"]),
])
def test_bad_config_files_are_named_with_what_is_wrong(tmp_path, content, words):
    path = tmp_path / "bad.yaml"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(ConfigError) as info:
        config.load(path)
    message = str(info.value)
    assert "\n" not in message and str(path) in message
    for word in words:
        assert word in message
