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
from thermogan.train.ensemble import Stacked, not_stacked, unsupported
from thermogan.train.members import Looped, Members
from thermogan.train.precision import Autocast

SEEDS = (0, 1, 2)
SGLD_T0 = "optim.d={kind: sgld, lr: 0.01, temperature: 0}"  # plain SGD through SGLD
PAPER = "optim.d={kind: sgld, lr: 0.01, temperature: 0.01, noise: covariance}"
CCADL = ("optim.d={kind: sgld, lr: 0.01, temperature: 1.0e-3, noise: ccadl, batch_size: 32, "
         "average: ema}")


def _trainers(tiny_config, extra=()):
    """Configs and trainers of the seeds of one method."""
    cfg = config.load(tiny_config, list(extra))
    cfgs = [cfg.model_copy(update={"seed": s}) for s in SEEDS]
    return cfgs, [build.build_trainer(c) for c in cfgs]


LENS = "tempering={kind: lens, width: 8, blocks: 1, lr: 1.0e-3}"
COUPLED = ("data.box=[-1, 1]", "tempering={kind: heat, levels: 3, coupled: true, "
           "coupling_lr: 0.01}")
SCORE = "regulariser={kind: score, weight: 0.5}"  # the ring's closed-form score, data space
DAE_FEATURES = "regulariser={kind: score, weight: 0.5, score: dae, space: features}"
CONTROLLED = "tempering={kind: instance_noise, std: {kind: constant_controller, value: 0.1}}"
ADAPTIVE_SCORE = ("regulariser={kind: score, weight: {kind: adaptive, hot: 0.5, images: 2000, "
                  "start: 0.5}}")  # variational annealing's λ set from each member's own D
MICROBATCH = "optim.d={kind: sgld, lr: 0.01, noise: covariance, variance: {kind: microbatch}}"
# batch norm in G and D (each member its own running statistics), with SGD: under Adam, a bias
# that batch norm cancels has a gradient of rounding noise only, which Adam scales to ±lr, so
# two summation orders (a stacked product and a single one) part there by lr-sized steps
BATCH_NORM = ("model.generator={kind: fc, hidden: [16, 16]}",
              "model.discriminator={kind: fc, hidden: [16, 16]}",
              "optim.g={kind: sgd, lr: 0.01, momentum: 0.5}", "optim.d={kind: sgd, lr: 0.01}")
CONDITIONAL = "model.conditional=true"
# Unrolled GAN's G term: it unrolls D's optimizer from each member's own state
UNROLLED = "regulariser={kind: unrolled, steps: 1}"
# spectral norm on D, each member its own power iteration (u, v), with SGD on D: W / σ(W) does
# not change with W's scale, so an entry of W's gradient can be a cancellation of rounding
# size, which Adam (as with batch norm above) scales to ±lr
SPECTRAL = ("model.discriminator={kind: fc, hidden: [16, 16], norm: none, spectral_norm: true}",
            "optim.d={kind: sgd, lr: 0.01, momentum: 0.5}")


def _state(trainer):
    """Weights and buffers (batch norm's statistics) of G, D and the EMA, and the parameters
    and buffers of the temperings (a lens, a coupling's offset, a controller's state) and of
    the G terms (a denoiser, an adaptive λ)."""
    parts = (trainer.G, trainer.D, trainer.G_ema.module, trainer.temperings,
             trainer.term_modules, trainer.term_levels)
    return [t.detach() for part in parts for t in (*part.parameters(), *part.buffers())]


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
    (ADAPTIVE_SCORE,), (MICROBATCH,), BATCH_NORM,
    (BATCH_NORM[0], BATCH_NORM[2], "objective.loss=wgan-gp"),
    (CONDITIONAL,), (CONDITIONAL, CCADL),
    ("model.discriminator={kind: maxout, hidden: [8, 8], pieces: 3, packs: 2}",),
    ("model.discriminator.spectral_norm=true", SPECTRAL[1], "objective.loss=wgan-gp"),
    (SPECTRAL[0], "optim.d={kind: sgld, lr: 0.01, temperature: 1.0e-3, noise: ccadl, "
                  "batch_size: 32, variance: {kind: per_example, chunk: 16}}"),
    (UNROLLED,), (*BATCH_NORM, UNROLLED, "optim.d={kind: sgd, lr: 0.01, momentum: 0.5}"),
], ids=["adam", "sgd", "instance_noise", "heat", "wgan_gp", "sgld_t0", "langevin_paper",
        "langevin_ccadl", "wgan_gp_langevin", "sgld_g_and_isotropic_d", "lens", "lens_2_d_steps",
        "coupled_beta_prime", "controller", "g_term_score", "g_term_dae_features",
        "g_term_adaptive_weight", "langevin_microbatch_variance", "batch_norm",
        "batch_norm_g_wgan_gp", "conditional", "conditional_langevin_ccadl", "packed_maxout_d",
        "spectral_norm_mlp_wgan_gp", "spectral_norm_langevin_chunked", "g_term_unrolled",
        "unrolled_batch_norm_sgd_momentum"])
def test_each_member_follows_its_single_run(tiny_config, extra):
    """Weights, optimizer state (SGLD's running variance of each member's own per-example
    gradients), the logged levels and noise, and every random stream's position (SGLD's noise
    drawn from the member's own stream, as many numbers as its single run draws)."""
    _, singles = _trainers(tiny_config, extra)
    for trainer in singles:
        for _ in range(25):
            trainer.train_step()
    _, members = _trainers(tiny_config, extra)
    _assert_each_follows_its_single_run(singles, members)


def _assert_each_follows_its_single_run(singles, members, steps=25):
    ensemble = Members(members)
    assert isinstance(ensemble.nets, Stacked)
    for _ in range(steps):
        logs = ensemble.train_step()
    assert logs["d_loss"].shape == (len(members),)
    ensemble.sync()
    for single, member in zip(singles, members):
        assert member.step == single.step == steps
        for a, b in zip(_state(single), _state(member), strict=True):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)  # rounding only
        for opt in ("g_opt", "d_opt"):
            for p, q in zip(getattr(single, opt).state.values(),
                            getattr(member, opt).state.values(), strict=True):
                for key in p:
                    torch.testing.assert_close(p[key], q[key], rtol=1e-4, atol=1e-5)
        for a, b in zip(_players(single), _players(member), strict=True):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)
        for name, stream in single.rngs.items():
            assert torch.equal(stream.get_state(), member.rngs[name].get_state()), name
    for s, single in enumerate(singles):
        assert ensemble.describe(s) == pytest.approx(single.describe(), rel=1e-4, nan_ok=True)
    # the members differ from each other (own weights and streams)
    assert not torch.equal(_state(members[0])[0], _state(members[1])[0])


HEAT = ("data.box=[-1, 1]", "tempering={kind: heat, levels: 3, fractions: [0.2, 0.6, 0.2]}")
#: Members of one step that differ by method: vanilla, instance noise, β-GAN, β-GAN with its
#: level set by the adaptive rule, the lens, the score regulariser and Unrolled GAN (G terms),
#: a Langevin D (SGLD, ccadl noise), and a pair with their own Adam learning rates and betas
MIXED = [(), ("tempering={kind: instance_noise, std_start: 0.3}",), HEAT,
         ("data.box=[-1, 1]", "tempering={kind: heat, levels: 3, fractions: [0.2, 0.6, 0.2], "
          "cold_std: 2, beta: {kind: adaptive, start: 1, images: 2000}}"),
         (LENS,), (SCORE,), (UNROLLED,), (CCADL,),
         ("optim.d={kind: adam, lr: 3.0e-3, betas: [0.6, 0.95]}",),
         ("optim.g={kind: adam, lr: 2.0e-4, betas: [0.0, 0.9]}",)]


def _mixed(tiny_config):
    cfgs = [config.load(tiny_config, ["train.steps=25", *extra]) for extra in MIXED]
    return cfgs, [build.build_trainer(c) for c in cfgs]


def test_members_that_differ_by_method_and_optimizer_share_one_stacked_step(tiny_config):
    """Each member of a mixed step is its single run up to rounding (its levels, controller,
    lens, Langevin noise and variance, EMA restarts, its own Adam settings), and the members
    that share optimizer settings share one optimizer."""
    _, singles = _mixed(tiny_config)
    for trainer in singles:
        for _ in range(25):
            trainer.train_step()
    _, members = _mixed(tiny_config)
    stacked = Members(members)
    rows = {side: [(g.start, g.stop) for g in stacked.nets.groups[side]] for side in "gd"}
    assert rows == {"d": [(0, 7), (7, 8), (8, 9), (9, 10)], "g": [(0, 9), (9, 10)]}
    _assert_each_follows_its_single_run(singles, members)


def test_members_with_spectral_norm_step_their_own_power_iteration(tiny_config):
    """Spectral-norm members of different methods share one stacked step, each its single run:
    a lens (whose player calls the member's own D), a micro-batch Langevin D (its k calls of D
    step u and v; the other members' are left alone) and plain SGD."""
    def make():
        return [build.build_trainer(config.load(tiny_config, [*SPECTRAL, *extra]))
                for extra in [(LENS,), (MICROBATCH,), ("seed=4",)]]

    singles = make()
    for trainer in singles:
        for _ in range(25):
            trainer.train_step()
    _assert_each_follows_its_single_run(singles, make())


def test_a_stacked_d_in_eval_mode_leaves_its_power_iteration_alone(tiny_config):
    """D's call in eval mode normalises with each member's u and v as they are, as a single
    run's; in training mode it steps them, as a single run's."""
    x = torch.randn(len(SEEDS), 32, 2)
    for training in (False, True):
        _, singles = _trainers(tiny_config, SPECTRAL)
        _, members = _trainers(tiny_config, SPECTRAL)
        for trainer in (*singles, *members):
            trainer.D.train(training)
        before = [b.clone() for b in members[0].D.buffers()]
        out = Members(members).nets.D(x, None)
        for s, (single, member) in enumerate(zip(singles, members)):
            torch.testing.assert_close(out[s], single.D(x[s]), rtol=1e-5, atol=1e-6)
            for a, b in zip(single.D.buffers(), member.D.buffers(), strict=True):
                torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
        moved = [not torch.equal(a, b) for a, b in zip(before, members[0].D.buffers())]
        assert any(moved) == training


def test_a_parametrisation_other_than_spectral_norm_is_refused(tiny_config):
    from torch.nn.utils.parametrizations import weight_norm

    _, (trainer, *_) = _trainers(tiny_config)
    weight_norm(trainer.D[0])
    assert "parametrisations other than spectral norm" in unsupported(trainer)


def _seeds(*extra):
    return lambda tiny_config: _trainers(tiny_config, extra)


RESUMED = {"adam": _seeds(), "langevin_ccadl": _seeds(CCADL), "lens": _seeds(LENS),
           "dae_features": _seeds(DAE_FEATURES), "batch_norm": _seeds(*BATCH_NORM),
           "conditional_microbatch": _seeds(CONDITIONAL, MICROBATCH),
           "spectral_norm": _seeds(SPECTRAL[0]), "mixed_methods": _mixed}


@pytest.mark.parametrize("make", RESUMED.values(), ids=RESUMED.keys())
def test_an_ensemble_resumes_exactly_from_its_members_checkpoints(tiny_config, tmp_path, make):
    cfgs, straight = make(tiny_config)
    ensemble = Members(straight)
    assert isinstance(ensemble.nets, Stacked)
    for _ in range(30):
        ensemble.train_step()
    ensemble.sync()

    _, first = make(tiny_config)
    ensemble = Members(first)
    for _ in range(12):
        ensemble.train_step()
    for s, (cfg, member) in enumerate(zip(cfgs, ensemble.sync())):
        save_checkpoint({**member.state_dict(), "config": cfg.to_dict()}, tmp_path / f"{s}.pt")
    _, again = make(tiny_config)
    for s, member in enumerate(again):
        state = load_checkpoint(tmp_path / f"{s}.pt")
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
        for opt in ("g_opt", "d_opt"):
            for p, q in zip(getattr(a, opt).state.values(), getattr(b, opt).state.values(),
                            strict=True):
                for key in p:
                    assert torch.equal(torch.as_tensor(p[key]), torch.as_tensor(q[key])), key
        for p, q in zip(_players(a), _players(b), strict=True):
            assert torch.equal(p, q)



def test_what_stacking_cannot_do_runs_member_by_member(tiny_config):
    """Members that cannot share a stacked computation (their Ds differ in width) step one by
    one inside the shared step, each exactly its single run."""
    extras = [(), ("model.discriminator.hidden=[32, 16]", "seed=1")]
    singles = [build.build_trainer(config.load(tiny_config, list(e))) for e in extras]
    for trainer in singles:
        for _ in range(6):
            trainer.train_step()
    members = [build.build_trainer(config.load(tiny_config, list(e))) for e in extras]
    looped = Members(members)
    assert isinstance(looped.nets, Looped)
    for _ in range(6):
        looped.train_step()
    for single, member in zip(singles, members):
        for a, b in zip(_state(single), _state(member), strict=True):
            assert torch.equal(a, b)


def test_members_stack_unless_their_networks_differ(tiny_config):
    def trainer(*extra):
        return build.build_trainer(config.load(tiny_config, list(extra)))

    a = trainer()
    assert not_stacked([a, trainer("optim.d={kind: sgld, lr: 0.01}", "model.z_dist=uniform")]) \
        is None  # another optimizer, another prior
    wider = trainer("model.discriminator.hidden=[32, 16]")
    assert not_stacked([a, wider]) == "members' D differ in architecture"
    assert isinstance(Members([a, wider]).nets, Looped)
    tanh = trainer("model.generator.activation=tanh")  # the same shapes, another computation
    assert not_stacked([a, tanh]) == "members' G differ in architecture"
    with pytest.raises(ValueError, match="differ in batch_size"):
        Members([a, trainer("train.batch_size=16")])
    # a moving average of G in one member and none in the other (found by a study's EMA row)
    averaged, plain = trainer("train.ema=0.99"), trainer("train.ema=null")
    assert not_stacked([averaged, plain]) == \
        "members differ in whether G has a moving average (train.ema)"
    assert isinstance(Members([averaged, plain]).nets, Looped)
    assert not_stacked([averaged, trainer("train.ema=0.9")]) is None  # decays of their own


def test_members_in_mixed_precision_stack(tiny_config):
    """bf16 members (build refuses train.amp on toy data, so the trainers are given it
    directly) follow their bf16 single runs far closer than bf16 follows float32."""
    def bf16(trainers):
        for t in trainers:
            t.autocast = Autocast("bf16", "cpu")
        return trainers

    floats, singles, members = (_trainers(tiny_config)[1] for _ in range(3))
    for trainer in (*floats, *bf16(singles)):
        for _ in range(5):
            trainer.train_step()
    stacked = Members(bf16(members))
    assert isinstance(stacked.nets, Stacked)
    for _ in range(5):
        stacked.train_step()
    for f, single, member in zip(floats, singles, members):
        for a, b, c in zip(f.D.parameters(), single.D.parameters(), member.D.parameters()):
            assert (b - c).abs().max() < 1e-2 * (a - b).abs().max()
    assert "members differ in precision" in not_stacked([floats[0], members[1]])


def test_compiled_members_stack_with_their_stacked_call_compiled(tiny_config, monkeypatch):
    """train.compile: the stacked call of G and D is compiled (torch.compile of the vmapped
    functional call; here with a backend that runs the graphs dynamo traced as traced, cheap
    and exact), and the members step exactly as uncompiled ones."""
    graphs = []
    real = torch.compile

    def record(graph, example_inputs):
        graphs.append(graph)
        return graph.forward

    monkeypatch.setattr(torch, "compile", lambda fn, **_: real(fn, backend=record))
    fc = ["model.generator={kind: fc, hidden: [16]}",  # nets with a forward of their own
          "model.discriminator={kind: fc, hidden: [16]}"]
    _, plain = _trainers(tiny_config, fc)
    _, compiled = _trainers(tiny_config, [*fc, "train.compile=true"])
    assert unsupported(compiled[0]) is None
    steps = {"plain": Members(plain), "compiled": Members(compiled)}
    for _ in range(3):
        logs = {name: step.train_step() for name, step in steps.items()}
        assert torch.equal(logs["plain"]["d_loss"], logs["compiled"]["d_loss"])
    assert graphs  # dynamo traced the stacked calls
    for a, b in zip(plain, compiled):
        for p, q in zip(_state(a), _state(b), strict=True):
            assert torch.equal(p, q)


@pytest.mark.figures
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
