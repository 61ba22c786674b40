"""Members of one training step (stacked, or member by member where stacking is not supported):
each member follows its single run, and members resume exactly."""

import json
import math

import numpy as np
import pytest
import scipy.stats
import torch

from thermogan.experiment import build, config
from thermogan.jsonio import restore_floats
from thermogan.train.checkpoint import load_checkpoint, save_checkpoint
from thermogan.train.ensemble import Stacked, unsupported
from thermogan.train.members import Looped, Members
from thermogan.train.precision import Autocast

SEEDS = (0, 1, 2)
SGLD_T0 = "optim.d={kind: sgld, lr: 0.01, temperature: 0}"  # plain SGD through SGLD
PAPER = "optim.d={kind: sgld, lr: 0.01, temperature: 0.01, noise: covariance}"
CCADL = ("optim.d={kind: sgld, lr: 0.01, temperature: 1.0e-3, noise: ccadl, batch_size: 32, "
         "average: ema}")


def _trainers(tiny_config, extra=()):
    cfg = config.load(tiny_config, list(extra))
    return cfg, [build.build_trainer(cfg.model_copy(update={"seed": s})) for s in SEEDS]


LENS = "tempering={kind: lens, width: 8, blocks: 1, lr: 1.0e-3}"
COUPLED = ("data.box=[-1, 1]", "tempering={kind: heat, levels: 3, coupled: true, "
           "coupling_lr: 0.01}")
SCORE = "regulariser={kind: score, weight: 0.5}"  # the ring's closed-form score, data space
DAE_FEATURES = "regulariser={kind: score, weight: 0.5, score: dae, space: features}"
CONTROLLED = "tempering={kind: instance_noise, std: {kind: constant_controller, value: 0.1}}"
ADAPTIVE_SCORE = ("regulariser={kind: score, weight: {kind: adaptive, hot: 0.5, images: 2000, "
                  "start: 0.5}}")  # variational annealing's λ set from each member's own D


def _state(trainer):
    """Weights of G, D and the EMA, and the parameters and buffers of the temperings (a lens, a
    coupling's offset, a controller's state) and of the G terms (a denoiser, an adaptive λ)."""
    nets = (trainer.G, trainer.D, trainer.G_ema.module)
    parts = (trainer.temperings, trainer.term_modules, trainer.term_levels)
    return [p.detach() for net in nets for p in net.parameters()] + [
        t.detach() for part in parts for t in (*part.parameters(), *part.buffers())]


def _players(trainer):
    """The players' optimizer states (the lens's Adam moments), flattened."""
    return [v for player in trainer.players.values() for opt in vars(player).values()
            if isinstance(opt, torch.optim.Optimizer) for state in opt.state.values()
            for v in state.values() if isinstance(v, torch.Tensor)]


@pytest.mark.parametrize("extra", [
    (), ("optim.d={kind: sgd, lr: 0.01, momentum: 0.5}", "train.d_steps=2"),
    ("tempering={kind: instance_noise, std_start: 0.3}",),
    ("data.box=[-1, 1]", "tempering={kind: heat, levels: 3, fractions: [0.2, 0.6, 0.2]}",
     "train.steps=25"),
    ("objective.loss=wgan-gp", "optim.d={kind: adam, lr: 1.0e-4, betas: [0.5, 0.9]}"),
    (SGLD_T0,), (PAPER,), (CCADL,), ("objective.loss=wgan-gp", PAPER),
    ("optim.d={kind: sgld, lr: 0.01, temperature: 1.0e-3}",
     "optim.g={kind: sgld, lr: 1.0e-3, temperature: 1.0e-4}"),
    (LENS,), (LENS, "train.d_steps=2"), COUPLED, (CONTROLLED,), (SCORE,), (DAE_FEATURES,),
    (ADAPTIVE_SCORE,),
], ids=["adam", "sgd", "instance_noise", "heat", "wgan_gp", "sgld_t0", "langevin_paper",
        "langevin_ccadl", "wgan_gp_langevin", "sgld_g_and_isotropic_d", "lens", "lens_2_d_steps",
        "coupled_beta_prime", "controller", "g_term_score", "g_term_dae_features",
        "g_term_adaptive_weight"])
def test_each_member_follows_its_single_run(tiny_config, extra):
    """Weights, optimizer state (SGLD's running variance of each member's own per-example
    gradients), the logged levels and noise, and every random stream's position (SGLD's noise
    drawn from the member's own stream, as many numbers as its single run draws)."""
    _, singles = _trainers(tiny_config, extra)
    for trainer in singles:
        for _ in range(25):
            trainer.train_step()
    _, members = _trainers(tiny_config, extra)
    ensemble = Members(members)
    assert isinstance(ensemble.nets, Stacked)
    for _ in range(25):
        logs = ensemble.train_step()
    assert logs["d_loss"].shape == (len(SEEDS),)
    ensemble.sync()
    for single, member in zip(singles, members):
        assert member.step == single.step == 25
        for a, b in zip(_state(single), _state(member)):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)  # rounding only
        for p, q in zip(single.d_opt.state.values(), member.d_opt.state.values()):
            for key in p:
                torch.testing.assert_close(p[key], q[key], rtol=1e-4, atol=1e-6)
        for a, b in zip(_players(single), _players(member), strict=True):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)
        for name, stream in single.rngs.items():
            assert torch.equal(stream.get_state(), member.rngs[name].get_state()), name
    for s, single in enumerate(singles):
        assert ensemble.describe(s) == pytest.approx(single.describe(), rel=1e-4, nan_ok=True)
    # the members differ from each other (own weights and streams)
    assert not torch.equal(_state(members[0])[0], _state(members[1])[0])


@pytest.mark.parametrize("extra", [(), (CCADL,), (LENS,), (DAE_FEATURES,)],
                         ids=["adam", "langevin_ccadl", "lens", "dae_features"])
def test_an_ensemble_resumes_exactly_from_its_members_checkpoints(tiny_config, tmp_path, extra):
    cfg, straight = _trainers(tiny_config, extra)
    ensemble = Members(straight)
    for _ in range(30):
        ensemble.train_step()
    ensemble.sync()

    _, first = _trainers(tiny_config, extra)
    ensemble = Members(first)
    for _ in range(12):
        ensemble.train_step()
    for seed, member in zip(SEEDS, ensemble.sync()):
        save_checkpoint({**member.state_dict(), "config": cfg.to_dict()}, tmp_path / f"{seed}.pt")
    _, again = _trainers(tiny_config, extra)
    for seed, member in zip(SEEDS, again):
        state = load_checkpoint(tmp_path / f"{seed}.pt")
        for t in (*state["generator"].values(), *state["generator_ema"].values()):
            assert t.untyped_storage().nbytes() == t.nbytes  # a member's own, not the stack
        member.load_state_dict(state)
    ensemble = Members(again)
    for _ in range(18):
        ensemble.train_step()
    ensemble.sync()
    for a, b in zip(straight, again):
        for p, q in zip(_state(a), _state(b)):
            assert torch.equal(p, q)
        for p, q in zip(a.d_opt.state.values(), b.d_opt.state.values()):
            for key in p:
                assert torch.equal(torch.as_tensor(p[key]), torch.as_tensor(q[key])), key
        for p, q in zip(_players(a), _players(b), strict=True):
            assert torch.equal(p, q)


BATCH_NORM = ("model.generator={kind: fc, hidden: [16, 16]}",
              "model.discriminator={kind: fc, hidden: [16, 16]}")


@pytest.mark.parametrize("overrides, words", [
    (("model.conditional=true",), "class-conditional"),
    (("optim.d={kind: sgld, lr: 0.01, noise: covariance, variance: {kind: microbatch}}",),
     "variance from micro-batch means"),
    (BATCH_NORM, "batch norm"),
], ids=["conditional", "microbatch_variance", "batch_norm"])
def test_what_stacking_cannot_do_yet_runs_member_by_member(tiny_config, overrides, words):
    """A member that stacking does not support says why, and members of its kind step one by
    one inside the shared step, each exactly its single run (batch norm: its own running
    statistics)."""
    _, singles = _trainers(tiny_config, overrides)
    assert words in unsupported(singles[0])
    for trainer in singles:
        for _ in range(6):
            trainer.train_step()
    _, members = _trainers(tiny_config, overrides)
    looped = Members(members)
    assert isinstance(looped.nets, Looped)
    for _ in range(6):
        looped.train_step()
    for single, member in zip(singles, members):
        for a, b in zip(_state(single), _state(member)):
            assert torch.equal(a, b)
        for net in ("G", "D"):
            for a, b in zip(getattr(single, net).state_dict().values(),
                            getattr(member, net).state_dict().values(), strict=True):
                assert torch.equal(a, b)


def test_members_that_differ_in_what_the_stack_holds_once_are_not_stacked(tiny_config):
    from thermogan.train.ensemble import not_stacked

    a = build.build_trainer(config.load(tiny_config))
    b = build.build_trainer(config.load(tiny_config, ["optim.d={kind: adam, lr: 0.01}"]))
    assert "differ" in not_stacked([a, b])
    assert isinstance(Members([a, b]).nets, Looped)
    with pytest.raises(ValueError, match="differ in batch_size"):
        Members([a, build.build_trainer(config.load(tiny_config, ["train.batch_size=16"]))])


def test_mixed_precision_and_compiled_networks_are_not_stacked(tiny_config):
    # build refuses both on toy data; a trainer given them directly must not lose them silently
    _, members = _trainers(tiny_config, [])
    members[0].autocast = Autocast("bf16", "cpu")
    assert "mixed precision (train.amp)" in unsupported(members[0])
    members[1].D.compile()
    assert "compiled networks (train.compile)" in unsupported(members[1])
    assert isinstance(Members(members).nets, Looped)


def test_train_seeds_writes_one_run_per_seed_and_resumes_exactly(tiny_config, tmp_path):
    from thermogan.cli import main

    straight, split = tmp_path / "straight", tmp_path / "split"
    assert main(["train", str(tiny_config), "train.steps=60", "--seeds", "0-1",
                 "--out", str(straight)]) == 0
    assert main(["train", str(tiny_config), "train.steps=20", "--seeds", "0,1",
                 "--out", str(split)]) == 0
    assert main(["train", "--resume", str(split), "train.steps=60"]) == 0
    for seed in (0, 1):
        a, b = straight / f"seed{seed}", split / f"seed{seed}"
        assert config.load(a / "config.yaml").seed == seed
        for name in ("summary.json", "metrics.jsonl", "figures/samples.png"):
            assert (b / name).exists()
        first, again = load_checkpoint(a / "checkpoints" / "latest.pt"), load_checkpoint(
            b / "checkpoints" / "latest.pt")
        assert first["step"] == again["step"] == 60
        for key in ("generator", "discriminator"):
            for name, value in first[key].items():
                assert torch.equal(value, again[key][name])
        logged = [line for line in (b / "metrics.jsonl").read_text().splitlines()]
        assert '"d_real_sign"' in logged[-1]


def test_a_sweep_reports_its_metrics_across_seeds_and_stands_for_its_members(
        tiny_config, tmp_path, capsys):
    from thermogan.cli import main

    sweep = tmp_path / "sweep"
    assert main(["train", str(tiny_config), "train.steps=20", "--seeds", "3,5,7",
                 "--out", str(sweep)]) == 0
    record = restore_floats(json.loads((sweep / "sweep.json").read_text()))
    summaries = [json.loads((sweep / f"seed{s}" / "summary.json").read_text())
                 for s in (3, 5, 7)]
    assert [m["seed"] for m in record["members"]] == [3, 5, 7] and record["seeds"] == 3
    for key in ("modes", "high_quality"):
        values = [float(s["metrics"][key]) for s in summaries]
        assert record["metrics"][key]["mean"] == pytest.approx(np.mean(values))
        assert record["metrics"][key]["se"] == pytest.approx(
            scipy.stats.sem(values), nan_ok=True)  # nan when the seeds agree exactly
    kl = [float(s["metrics"]["reverse_kl"]) for s in summaries]
    infinite = sum(map(np.isinf, kl))
    assert record["metrics"]["reverse_kl"]["not_finite"] == ({"inf": infinite} if infinite else {})
    out = capsys.readouterr().out.splitlines()
    assert out[-1].startswith("3 seeds: modes ") and out[-1].endswith(f"({sweep / 'sweep.json'})")
    assert (f"reverse_kl inf in {infinite} of 3" in out[-1]) == bool(infinite)
    # a report names the sweep for its members; a command on one run asks for one of them
    assert main(["report", str(sweep), "--out", str(tmp_path / "all.png")]) == 0
    rows = capsys.readouterr().out.splitlines()
    assert [row.split()[0] for row in rows[:3]] == [str(sweep / f"seed{s}") for s in (3, 5, 7)]
    assert rows[3] == f"{sweep}: {out[-1].rsplit('  (', 1)[0]}"  # the line across the seeds
    assert main(["eval", str(sweep)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.endswith(f"is a seed sweep of 3 runs (seed3 to seed7): name one of them, "
                        f"e.g. {sweep / 'seed3'}")


def test_a_sweeps_line_gives_mean_and_error_or_how_many_seeds_were_not_finite(tmp_path):
    from thermogan.experiment.seeds import across, across_line

    def summary(modes, kl, fd):
        return {"metrics": {"modes": modes, "reverse_kl": kl, "fd": fd, "note": "x"},
                "protocol": {"samples": 10}, "provenance": {"thermogan": "0"}}

    done = [(tmp_path / "seed2", summary(8, 0.5, 1.0)), (tmp_path / "seed4", summary(6, math.inf,
            math.nan)), (tmp_path / "seed9", summary(7, math.inf, 2.0))]
    record = across(done)
    assert [m["seed"] for m in record["members"]] == [2, 4, 9]
    assert set(record["metrics"]) == {"modes", "reverse_kl", "fd"}  # numbers only
    assert record["metrics"]["modes"]["mean"] == 7.0
    assert record["metrics"]["modes"]["se"] == pytest.approx(1 / math.sqrt(3))
    assert record["metrics"]["reverse_kl"]["not_finite"] == {"inf": 2}
    assert across_line(record) == ("3 seeds: modes 7.00 ± 0.58  reverse_kl inf in 2 of 3  "
                                   "fd nan in 1 of 3")
    record["metrics"] = {"high_quality": {"mean": 0.004533, "se": 0.0004807, "not_finite": {}}}
    assert across_line(record) == "3 seeds: high_quality 0.453 ± 0.048%"
    record["seeds"], record["metrics"]["high_quality"]["se"] = 1, math.nan
    assert across_line(record) == "1 seed: high_quality 0.4533%"


def test_seeds_are_parsed_and_checked():
    from thermogan.errors import UsageError
    from thermogan.experiment.seeds import parse_seeds

    assert parse_seeds("0-3,8,2") == [0, 1, 2, 3, 8]
    for bad in ("3-1", "a", "1,,2"):
        with pytest.raises(UsageError, match="--seeds"):
            parse_seeds(bad)


def test_members_of_different_temperings_players_and_g_terms_share_one_stacked_step(
        tiny_config):
    """Runs that differ only in what D sees and what G adds (vanilla, instance noise, β-GAN
    with its levels, the lens, the score regulariser) stack, each member its single run up to
    rounding, its EMA restarted at its own levels."""
    methods = [(), ("tempering={kind: instance_noise, std_start: 0.3}",),
               ("data.box=[-1, 1]", "tempering={kind: heat, levels: 3, fractions: [0.2, 0.6, "
                "0.2]}", "train.steps=25"), (LENS,), (SCORE,)]
    def build_all():
        return [build.build_trainer(config.load(tiny_config, list(extra))) for extra in methods]
    singles = build_all()
    for trainer in singles:
        for _ in range(25):
            trainer.train_step()
    members = build_all()
    stacked = Members(members)
    assert isinstance(stacked.nets, Stacked)
    for _ in range(25):
        stacked.train_step()
    stacked.sync()
    for single, member in zip(singles, members):
        for a, b in zip(_state(single), _state(member)):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
