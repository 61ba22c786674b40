"""Packing a bench's runs (``bench/packing.py``): runs of different methods and seeds that stack
train as one shared computation, each in its own folder and equal to the run trained alone; a
pack resumes exactly after an interrupt; ``--max-members`` caps a pack; the arithmetic floor
counts a step's FLOPs as an independent count gives them."""

import os
import signal

import pytest
import torch

from thermogan.bench import engine, packing, study
from thermogan.bench.engine import Job
from thermogan.bench.pool import Executor
from thermogan.cli import parser
from thermogan.experiment import build, config, runs
from thermogan.train import checkpoint
from thermogan.train.checkpoint import load_checkpoint
from thermogan.train.floor import matmul_peak, step_flops
from thermogan.train.interrupt import Interrupted

BENCH = study.bench(study.read(study.packaged("modes.yaml")), "modes")
METHODS = {"vanilla": (), "noise": ("tempering={kind: instance_noise, std_start: 0.3}",),
           "nonsaturating": ("objective.loss=nonsaturating",),
           "micro-batch SGLD": ("optim.d={kind: sgld, lr: 0.01, noise: covariance, variance: "
                                "{kind: microbatch}}",),
           "unrolled": ("regulariser={kind: unrolled, steps: 1}",),
           "Rprop D": ("optim.d={kind: rprop, lr: 0.01}",)}  # with the rprop_registered fixture
STEPS = ("train.steps=6", "train.checkpoint_every=100", "eval.samples=200")


def _jobs(tiny_config, out, methods, seeds=(0, 1)):
    return [Job((("method", m),), s, tiny_config, (*METHODS[m], *STEPS, f"seed={s}"),
                out / m / f"seed{s}") for m in methods for s in seeds]


def _names(units):
    return [[(dict(job.labels)["method"], job.seed) for job in unit] for unit in units]


def test_runs_that_stack_pack_whatever_their_method_up_to_the_cap(tiny_config, tmp_path,
                                                                  rprop_registered):
    jobs = _jobs(tiny_config, tmp_path, METHODS)
    packed = packing.pack(jobs)
    # the saturating runs stack across methods (an SGLD D and an unrolled G included);
    # another loss is another pack; an optimizer the stack does not know trains run by run,
    # and the bench says why
    assert _names(packed.units) == [
        [("vanilla", 0), ("vanilla", 1), ("noise", 0), ("noise", 1), ("micro-batch SGLD", 0),
         ("micro-batch SGLD", 1), ("unrolled", 0), ("unrolled", 1)],
        [("nonsaturating", 0), ("nonsaturating", 1)], [("Rprop D", 0)], [("Rprop D", 1)]]
    assert packed.notes[0].startswith("Rprop D trains run by run: stacked members do not "
                                      "support optimizer Rprop")
    assert sorted(len(u) for u in packing.pack(jobs, max_members=3).units) == [1, 1, 2, 2, 3, 3]
    assert sorted(len(u) for u in packing.pack(jobs, workers=4).units) == [1, 1, 2, 2, 3, 3]
    per_run = step_flops(build.build_trainer(config.load(tiny_config, list(jobs[0].overrides))))
    assert packed.flops == pytest.approx(12 * 6 * per_run, rel=0.5)  # the methods' FLOPs differ
    assert parser().parse_args(["bench", "lens", "--max-members", "5"]).max_members == 5


def test_finished_runs_are_reused_and_the_others_packed_afresh(tiny_config, tmp_path):
    jobs = _jobs(tiny_config, tmp_path, ("vanilla", "noise"))
    first = packing.pack(jobs, workers=2)
    assert [len(unit) for unit in first.units] == [2, 2]
    for job in first.units[0]:  # that pack finished
        job.run_dir.mkdir(parents=True)
        (job.run_dir / "summary.json").write_text("{}")
    again = packing.pack(jobs, workers=2)
    # the two left: a run on each worker, sooner than their pack of two on one
    assert again.units == [*((job,) for job in (*first.units[1], *first.units[0]))]
    assert again.flops == pytest.approx(first.flops / 2)  # the runs to train only
    assert again.notes == []
    assert [len(u) for u in packing.pack(jobs, workers=1).units] == [2, 1, 1]


def _begin(job, shared_with, file="latest.pt"):
    """A checkpoint of ``job``'s run as a begun pack leaves it (None: one from before packs
    were recorded)."""
    state = {key: {} for key in checkpoint.REQUIRED} | {"step": 3}
    if shared_with is not None:
        state["shared_with"] = shared_with
    checkpoint.save_checkpoint(state, job.run_dir / "checkpoints" / file)


def test_a_begun_pack_keeps_its_runs_and_order_and_the_rest_pack_around_it(tiny_config,
                                                                           tmp_path):
    """All four runs would make one pack; two began as a pack of their own (their checkpoints
    name each other, relative to their folders; one's newest state still pending): it resumes
    with them in their order, the two not begun pack afresh. A begun run whose checkpoint names
    no pack (written before packs were recorded) resumes alone, and the bench says so."""
    v0, v1, n0, n1 = jobs = _jobs(tiny_config, tmp_path, ("vanilla", "noise"))
    assert [len(unit) for unit in packing.pack(jobs).units] == [4]
    _begin(n0, [".", os.path.relpath(v1.run_dir, n0.run_dir)])
    _begin(v1, [os.path.relpath(n0.run_dir, v1.run_dir), "."], file="pending.pt")
    packed = packing.pack(jobs, workers=2)
    assert set(packed.units) == {(n0, v1), (v0, n1)}
    assert packed.notes == ["4 runs to train: 4 of them in 2 shared computation(s) of 2, 2 runs",
                            "1 begun unit(s) of 2 runs resume as they began"]
    _begin(v0, None)
    again = packing.pack(jobs, workers=2)
    assert set(again.units) == {(n0, v1), (v0,), (n1,)}
    assert again.notes[0] == "vanilla, seed 0, resumes alone: its checkpoint does not record " \
                             "the runs it began with"


def test_packed_runs_equal_the_runs_trained_alone(tiny_config, tmp_path):
    methods = ("vanilla", "noise")
    packed, alone = (_jobs(tiny_config, tmp_path / name, methods) for name in ("packed", "alone"))
    engine.train(BENCH, packed, Executor(1))
    engine.train(BENCH, alone, Executor(1), packed=packing.Packed([(j,) for j in alone], 0, []))
    for a, b in zip(packed, alone):
        files = [sorted(str(p.relative_to(d)) for p in d.rglob("*") if p.is_file())
                 for d in (a.run_dir, b.run_dir)]
        assert files[0] == files[1]  # a single run's layout
        assert "summary.json" in files[0] and "checkpoints/latest.pt" in files[0]
        first, second = (load_checkpoint(runs.latest_checkpoint(j.run_dir)) for j in (a, b))
        assert first["step"] == second["step"] == 6
        for key in ("generator", "discriminator"):
            for name, value in first[key].items():
                torch.testing.assert_close(value, second[key][name], rtol=1e-5, atol=1e-6)


def test_a_pack_resumes_exactly_after_an_interrupt(tiny_config, tmp_path, monkeypatch):
    straight, split = (_jobs(tiny_config, tmp_path / name, ("vanilla", "noise"), seeds=(0,))
                       for name in ("straight", "split"))
    engine.train(BENCH, straight, Executor(1))
    callbacks, sent = runs.callbacks, []

    def ctrl_c(member):  # once, after step 3: the loop saves every member's step and stops
        if member.step == 3 and not sent:
            sent.append(os.kill(os.getpid(), signal.SIGINT))

    monkeypatch.setattr(runs, "callbacks", lambda *args: [*callbacks(*args), ctrl_c])
    with pytest.raises(Interrupted, match="interrupted at step 3 of 6"):
        engine.train(BENCH, split, Executor(1))
    monkeypatch.undo()
    states = [load_checkpoint(runs.latest_checkpoint(j.run_dir)) for j in split]
    assert [state["step"] for state in states] == [3, 3]
    # each names its pack's folders, relative to its own, in the pack's order
    for job, state in zip(split, states):
        assert not any(os.path.isabs(name) for name in state["shared_with"])
        assert [(job.run_dir / name).resolve() for name in state["shared_with"]] == [
            j.run_dir.resolve() for j in split]
    # both resume, as one pack again, though a new run would have joined it
    (added,) = _jobs(tiny_config, tmp_path / "split", ("vanilla",), seeds=(1,))
    assert [len(unit) for unit in packing.pack([*split, added]).units] == [2, 1]
    engine.train(BENCH, [*split, added], Executor(1))
    for a, b in zip(straight, split):
        first, again = (load_checkpoint(runs.latest_checkpoint(j.run_dir)) for j in (a, b))
        assert again["step"] == 6
        for key in ("generator", "discriminator", "generator_ema"):
            for name, value in first[key].items():
                assert torch.equal(value, again[key][name])


def test_a_step_counts_the_flops_of_its_matrix_products(tiny_config):
    """TINY: G 2-32-32-2 and D 2-32-32-1 of linear layers, batch 32, one D step, Adam. A layer's
    product is 2·B·in·out FLOPs forward, as much for its weights' gradient, and as much again
    for its input's gradient where the input needs one (not the data's, nor the latents')."""
    b = 32
    g = 2 * b * (2 * 32 + 32 * 32 + 32 * 2)  # G forward
    d = 2 * b * (2 * 32 + 32 * 32 + 32 * 1)  # D forward
    first_d, first_g = 2 * b * 2 * 32, 2 * b * 2 * 32  # the first layers' input gradients
    d_step = g + 2 * d + 2 * (2 * d - first_d)  # G (no grad), D on real and fake, their backward
    g_step = g + d + d + (2 * g - first_g)  # D's input gradient, then G's backward
    trainer = build.build_trainer(config.load(tiny_config))
    assert step_flops(trainer) == d_step + g_step
    assert trainer.step == 1
    assert 1e8 < matmul_peak(threads=1, seconds=0.05) < 1e13  # FLOP/s of any CPU core


def test_the_longest_pack_is_cut_while_that_shortens_the_bench():
    """The quick modes bench's shape: 24 runs costing 13.7 each, 66 costing 8.4 (two packs of
    33 under a cap of 64) and 6 costing 9.5; a pack of n takes its cost × (n + 2) / n. Cut by
    count alone, the 2 workers' times are 356.2 + 76 and 294 + 294 (the last 294 on one worker
    alone); the 24 cut in two (191.8 each), then a 33 (151.2 + 159.6) even them: 294 + 159.6 +
    76 and 191.8 + 191.8 + 151.2."""
    cost = {**{f"a{i}": 13.7 for i in range(24)}, **{f"b{i}": 8.4 for i in range(66)},
            **{f"c{i}": 9.5 for i in range(6)}}
    runs_of = {name: [job for job in cost if job.startswith(name)] for name in "abc"}
    units = [tuple(part) for name in "abc" for part in packing._cut(runs_of[name], 64)]
    assert [len(u) for u in units] == [24, 33, 33, 6]
    assert packing._makespan(units, cost, 2) == pytest.approx(2 * 35 * 8.4)
    balanced = packing._balance(units, cost, 2)
    assert sorted(len(u) for u in balanced) == [6, 12, 12, 16, 17, 33]
    assert sorted(j for u in balanced for j in u) == sorted(cost)  # every run once
    assert packing._makespan(balanced, cost, 2) == pytest.approx(2 * 14 * 13.7 + 18 * 8.4)
    # one worker: nothing to even, the fewest packs; equal runs: as even as can be
    assert packing._balance(units, cost, 1) == units
    ten = {f"s{i}": 1.0 for i in range(10)}
    assert [[len(u) for u in packing._balance([tuple(ten)], ten, w)] for w in (2, 3, 4)] == [
        [5, 5], [4, 3, 3], [3, 3, 2, 2]]


def test_makespan_is_the_busiest_worker_when_the_longest_go_first():
    cost = {"a": 5.0, "b": 4.0, "c": 3.0, "d": 3.0, "e": 3.0}  # alone: each takes 3 × its cost
    # a→1 (15), b→2 (12), c→2 (21), d→1 (24), e→2 (30)
    assert packing._makespan([(j,) for j in cost], cost, 2) == pytest.approx(30.0)
    assert packing._makespan([tuple(cost)], cost, 4) == pytest.approx(18.0 * 7 / 5)
