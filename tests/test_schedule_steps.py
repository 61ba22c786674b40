"""A run's schedules are fixed when it starts: resuming with more steps continues at the cold end
instead of stretching (reheating) the schedules (issue [7], bug 1)."""

import json

import pytest

from thermogan.cli import main
from thermogan.experiment import build, config

N = 200
SPECS = {
    "heat": "{kind: heat, levels: 4}",
    "heat (coupled)": "{kind: heat, levels: 4, coupled: true}",
    "instance_noise": "{kind: instance_noise, std_end: 0.05}",
    "lens": "{kind: lens, width: 4, blocks: 1, weight: {kind: sine_decay, horizon: 100}}",
}


def levels(trainer, step):
    trainer.set_levels(step)
    return {**trainer.describe(), "lr": trainer.g_opt.param_groups[0]["lr"]}


@pytest.mark.parametrize("name", sorted(SPECS))
def test_levels_after_the_first_run_hold_the_cold_end(tiny_config, name):
    first = config.load(tiny_config, [f"tempering={SPECS[name]}", f"train.steps={N}",
                                      "data.box=[-1, 1]"])
    longer = first.with_fixed_schedules().model_copy(deep=True)
    longer.train.steps = 2 * N  # what --resume train.steps=400 asks for
    assert longer.train.schedule_steps == N
    a, b = build.build_trainer(first), build.build_trainer(longer)
    for step in range(0, 2 * N, 7):  # the same levels at every step, beyond N included
        assert levels(a, step) == levels(b, step), step
    end = levels(b, 2 * N - 1)
    cold = {"heat": ("beta", float("inf")), "heat (coupled)": ("beta", float("inf")),
            "instance_noise": ("noise_std", 0.05), "lens": ("lambda", 0.0)}[name]
    assert end[cold[0]] == pytest.approx(cold[1])
    assert end["lr"] == pytest.approx(1e-3 * 0.5)  # optim.lr_decay holds its end value


def test_resume_with_more_steps_stays_on_the_data_stage(tmp_path, capsys):
    run = tmp_path / "run"
    common = ["train.progress=false", "train.tensorboard=false", "train.batch_size=32",
              "model.generator.hidden=[16]", "model.discriminator.hidden=[16]",
              "train.log_every=50", "tempering.levels=4", "eval.samples=200"]
    assert main(["train", "configs/ring8_betagan.yaml", "--out", str(run), "train.steps=400",
                 *common]) == 0
    assert main(["train", "--resume", str(run), "train.steps=600"]) == 0
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    after = [r for r in records if r["step"] > 400]
    assert [r["step"] for r in after] == [450, 500, 550, 600]
    assert all(r["stage"] == 2 and r["beta"] == "inf" for r in after)
    stored = config.load(run / "config.yaml")
    assert stored.train.steps == 600 and stored.train.schedule_steps == 400
