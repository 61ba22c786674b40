"""The ``thermogan`` command line: train, eval, sample, report, dynamics, bench, data, list.

Errors print one line and exit non-zero (2 for config errors); ``--debug`` shows the traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
import types
import typing
from pathlib import Path
from typing import Any

import numpy as np

from thermogan.bench.packing import MAX_MEMBERS
from thermogan.bench.pool import Executor
from thermogan.errors import ThermoganError, UsageError


def _check_out_folder(out: Path | None) -> None:
    """``--out`` must be a folder, or a path where one can be made."""
    if out is None:
        return
    if out.is_symlink() and not out.exists():
        raise UsageError(f"--out {out}: a symbolic link that leads nowhere (a loop, or a "
                         "missing target)")
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out}: a file, not a folder")
    from thermogan.experiment.outputs import file_parent

    blocking = file_parent(out)
    if blocking is not None:
        raise UsageError(f"--out {out}: {blocking} is a file, not a folder")


def _train(args: argparse.Namespace) -> None:
    from thermogan.experiment import config, runs
    from thermogan.train import distributed
    from thermogan.train.interrupt import Interrupted

    _check_out_folder(args.out)
    if args.check:
        return _check(args)
    sweep = args.seeds is not None or args.resume is not None and runs.member_dirs(args.resume)
    try:
        _train_seeds(args) if sweep else _train_one(args)
    except Interrupted as err:  # Ctrl-C: saved at the step it stopped
        folder = args.resume or args.out or Path("runs") / config.load(args.config,
                                                                       args.overrides).name
        raise Interrupted(f"{err}: resume with `thermogan train --resume {folder}`",
                          err.step) from None
    finally:
        distributed.shutdown()


def _check(args: argparse.Namespace) -> None:
    """``train --check``: the checks of a start, and nothing else."""
    from thermogan.experiment import config, runs

    if args.resume is not None or args.config is None:
        raise UsageError("--check takes a CONFIG (and overrides), not --resume")
    print(runs.check(config.load(args.config, args.overrides), args.device))


def _train_one(args: argparse.Namespace) -> None:
    from thermogan.experiment import config, runs, scoring

    if args.resume is not None:
        if args.out is not None:
            raise UsageError(f"--resume {args.resume} continues the run in its own folder; "
                             "leave out --out")
        cfg = config.load(args.config, args.overrides) if args.config else None
        trainer, summary = runs.resume(args.resume, cfg, [] if cfg else args.overrides, args.device,
                                       announce=lambda line: print(f"{args.resume}: {line}"))
        run_dir = args.resume
    else:
        if args.config is None:
            raise UsageError("train needs a CONFIG file (or --resume RUN_DIR)")
        cfg = config.load(args.config, args.overrides)
        run_dir = args.out or Path("runs") / cfg.name
        trainer, summary = runs.start(cfg, run_dir, args.device)
    if summary is None:  # a data-parallel replica other than the main one
        return
    print(f"{run_dir}: step {trainer.step}: {scoring.format_metrics(summary)}")
    print(f"figure: {run_dir / 'figures' / 'samples.png'}")


def _train_seeds(args: argparse.Namespace) -> None:
    from thermogan.experiment import config, scoring, seeds
    from thermogan.train import distributed

    if args.resume is not None:
        if args.seeds is not None:
            raise UsageError("--resume continues the seeds the sweep has; leave out --seeds")
        if args.out is not None:
            raise UsageError(f"--resume {args.resume} continues the sweep in its own folder; "
                             "leave out --out")
        if args.config is not None:
            raise UsageError("--resume of a seed sweep takes overrides only (KEY=VALUE), "
                             "not a CONFIG")
        sweep_dir = Path(args.resume)
        done = seeds.resume(sweep_dir, args.overrides, args.device)
    else:
        if args.config is None:
            raise UsageError("train --seeds needs a CONFIG file")
        cfg = config.load(args.config, args.overrides)
        sweep_dir = args.out or Path("runs") / cfg.name
        done = seeds.start(cfg, sweep_dir, seeds.parse_seeds(args.seeds), args.device)
    if not distributed.main_process():  # torchrun: the main process reports
        return
    for run_dir, summary in done:
        print(f"{run_dir}: {scoring.format_metrics(summary)}")
    print(f"{seeds.across_line(seeds.across(done))}  ({sweep_dir / seeds.SWEEP})")


def _eval(args: argparse.Namespace) -> None:
    from thermogan.experiment import runs, scoring
    from thermogan.jsonio import write_json

    if args.samples is not None and args.samples <= 0:
        raise UsageError(f"--samples {args.samples}: must be > 0")
    cfg, trainer = runs.open_run(args.run_dir, args.device, args.threads)
    if args.samples is not None:
        cfg.eval.samples = args.samples
    if args.seed is not None:
        cfg.eval.seed = args.seed
    if args.classifier is not None:
        cfg.eval.classifier = str(args.classifier)
    summary = scoring.evaluate(cfg, trainer)
    if not summary["metrics"]:
        raise ThermoganError(f"{args.run_dir}: {summary['protocol']['note']}")
    write_json(summary, Path(args.run_dir) / "eval.json")
    print(scoring.format_metrics(summary))


def _classes(text: str | None, num_classes: int | None) -> list[int] | None:
    """``--labels``: None, ``all`` (every class) or comma-separated classes, checked."""
    if text is None:
        return None
    if num_classes is None:
        raise UsageError(f"--labels {text}: this run's generator is not class-conditional "
                             "(train with model.conditional=true)")
    if text == "all":
        if num_classes > 100:
            raise UsageError(f"--labels all: {num_classes} classes are too many rows; "
                                 "name some, e.g. --labels 3,17,420")
        return list(range(num_classes))
    try:
        classes = [int(c) for c in text.split(",")]
    except ValueError:
        raise UsageError(f"--labels {text!r}: expected all, or classes like 3 or 1,5,7"
                             ) from None
    bad = [c for c in classes if not 0 <= c < num_classes]
    if bad:
        raise UsageError(f"--labels {text}: classes run from 0 to {num_classes - 1}")
    return classes


def _sample(args: argparse.Namespace) -> None:
    from thermogan.experiment import runs
    from thermogan.experiment.outputs import check_output

    if args.n is not None and args.n <= 0:
        raise UsageError(f"--n {args.n}: must be > 0")
    check_output(args.out, args.force)
    if Path(args.out).suffix not in (".npy", ".png"):
        raise UsageError(f"--out {args.out}: expected a .npy file (the samples) or a .png (a "
                         "grid of images)")
    _, trainer = runs.open_run(args.run_dir, args.device, args.threads)
    classes = _classes(args.labels, trainer.num_classes)
    rows = classes is not None and len(classes) > 1
    n = args.n if args.n is not None else (8 if rows else 2500)
    out = Path(args.out)
    draws = [None] if classes is None else classes
    samples = np.concatenate([trainer.sample(n, args.seed, use_ema=not args.raw,
                                             labels=c).numpy() for c in draws])
    out.parent.mkdir(parents=True, exist_ok=True)
    title = f"{args.run_dir}: seed {args.seed}"
    if trainer.data.is_image:
        _write_images(samples, out, title, classes)
    else:  # toy samples in the data's own space, not the box's
        samples = trainer.data.to_data(samples)
        _write_points(trainer.data, samples, out, title)
    order = f" ({n} per class, classes {args.labels} in order)" if rows else ""
    print(f"wrote {len(samples)} samples of shape {samples.shape[1:]} to {out}{order}")


def _save_npy(samples: Any, out: Path) -> None:
    """The samples as a ``.npy`` file, written atomically (a full disk leaves no half file)."""
    import io

    from thermogan.atomic import write_atomic

    buffer = io.BytesIO()
    np.save(buffer, samples)
    write_atomic(out, buffer.getvalue())


def _write_images(samples: Any, out: Path, title: str, classes: list[int] | None) -> None:
    """``.npy``, or a ``.png`` grid: one row per class when several classes were drawn."""
    if out.suffix != ".png":
        _save_npy(samples, out)
        return
    from thermogan.report.images import class_rows, image_panels

    if classes is not None and len(classes) > 1:
        class_rows(samples, classes, out, f"{title}; one row per class, same z per column")
    else:
        suffix = f", class {classes[0]}" if classes else ""
        image_panels([(f"{title}, {len(samples)} samples{suffix}", samples)], out, cols=1,
                     size=6.0)


def _write_points(data: Any, samples: Any, out: Path, title: str) -> None:
    """``.npy``, or a ``.png`` scatter of the samples against as many data points."""
    if out.suffix != ".png":
        _save_npy(samples, out)
        return
    from thermogan.report.figures import data_vs_samples

    real = data.to_data(data.sample(len(samples)).x.numpy())
    data_vs_samples(real, samples, out, f"{title}, {len(samples)} samples")


def _bench(args: argparse.Namespace) -> None:
    """A bench of the registry, or a study file: its protocol from the options, then the run."""
    from thermogan.bench import engine, study

    if args.html is not None:
        from thermogan.experiment.outputs import check_output

        check_output(args.html, args.force, "--html")
    executor = Executor(args.workers, args.ray)  # a missing Ray fails before any planning
    bench = args.declared if args.command == "bench" else study.bench(study.read(args.file))
    table, files = engine.run(bench, _protocol(bench, args), args.out, executor, args.quick,
                              args.max_members)
    print(table)
    print(f"wrote {', '.join(str(f) for f in files)}")
    if args.html is not None:
        from thermogan.report.html import bench_report

        title = f"thermogan {args.command} {bench.name}"
        print(f"report: {bench_report(args.out, args.html, title)}")


def _protocol(bench: Any, args: argparse.Namespace) -> Any:
    """The bench's protocol (its quick preset with --quick) with the options given: a list is
    comma-separated, a number must be > 0."""
    import dataclasses

    hints = typing.get_type_hints(type(bench.protocol))
    changes = {}
    for f in dataclasses.fields(bench.protocol):
        if f.name not in vars(args):
            continue
        value, kind = getattr(args, f.name), _kind(hints[f.name])
        if isinstance(value, (list, str)) and typing.get_origin(kind) is tuple:  # or repeated
            value = _items(value, typing.get_args(kind)[0], _flag(f))
        if isinstance(value, (int, float)) and value <= 0:
            raise UsageError(f"{_flag(f)} {value}: must be > 0")
        changes.update(dict.fromkeys((f.name, *f.metadata.get("also", ())), value))
    return dataclasses.replace(bench.quick if args.quick else bench.protocol, **changes)


def _flag(f: Any) -> str:
    return f.metadata.get("flag", "--" + f.name.replace("_", "-"))


def _kind(hint: Any) -> Any:
    """A field's type without None (``int | None``: int)."""
    if isinstance(hint, types.UnionType):
        return next(t for t in typing.get_args(hint) if t is not type(None))
    return hint


def _items(given: str | list[str], kind: type, flag: str) -> tuple[Any, ...]:
    """A comma-separated option, words or numbers (``--levels 2,5,10``), or a repeated one."""
    try:
        return tuple(kind(v.strip()) for v in (given.split(",") if isinstance(given, str)
                                               else given))
    except ValueError:
        raise UsageError(f"{flag} {given!r}: expected comma-separated numbers") from None


def _add_protocol_args(parser: argparse.ArgumentParser, protocol_type: type, full: Any = None,
                       quick: Any = None) -> None:
    """One option per field of a bench's protocol (its ``metadata``: ``bench.engine.Bench``),
    its defaults (full and quick) in its help; a tuple is comma-separated."""
    import dataclasses

    hints = typing.get_type_hints(protocol_type)
    for f in dataclasses.fields(protocol_type):
        if not f.metadata.get("cli", True):
            continue
        kind = _kind(hints[f.name])
        text = f.metadata.get("help", "")
        if full is not None and getattr(full, f.name) != ():
            said = [f"default {_said(getattr(full, f.name))}"]
            if getattr(quick, f.name) != getattr(full, f.name):
                said.append(f"quick {_said(getattr(quick, f.name))}")
            text += f" ({', '.join(said)})"
        append = f.metadata.get("append", False)
        parser.add_argument(_flag(f), dest=f.name, default=argparse.SUPPRESS, help=text,
                            type=str if typing.get_origin(kind) is tuple else kind,
                            choices=f.metadata.get("choices"), metavar=f.metadata.get("metavar"),
                            **({"action": "append"} if append else {}))


def _said(value: Any) -> str:
    from thermogan.experiment.config import SHIPPED

    if isinstance(value, tuple):
        return ",".join(map(str, value))
    if isinstance(value, Path) and value.is_relative_to(SHIPPED):  # not this machine's path
        return f"the shipped {value.relative_to(SHIPPED)}".replace(" .", " configs")
    return "the config's" if value is None else str(value)


def _add_run_args(parser: argparse.ArgumentParser, out: str, full: Any = None,
                  quick: Any = None) -> None:
    """Every bench's --quick, --out, --html, and where its jobs run (``bench/pool.py``)."""
    preset = "" if quick is None else ": " + ", ".join(
        f"{k} {_said(v)}" for k, v in vars(quick).items() if v != getattr(full, k))
    parser.add_argument("--quick", action="store_true", help="the quick preset" + preset)
    parser.add_argument("--out", type=Path, default=Path(out))
    parser.add_argument("--html", type=Path, metavar="FILE", help="also write the results table "
                        "and figures as one self-contained HTML page")
    parser.add_argument("--force", action="store_true", help="replace --html even if thermogan "
                        "did not write it (a run's own files are never replaced)")
    parser.add_argument("--workers", type=int, default=2, help="processes (one thread each); "
                        "with --ray local, the local cluster's CPUs")
    parser.add_argument("--ray", metavar="ADDRESS", help="run the jobs as Ray tasks on the "
                        "cluster at ADDRESS (host:port, ray://host:port, auto; its nodes must "
                        "share this filesystem), or on one started here: local (pip install "
                        "'thermogan[ray]')")
    parser.add_argument("--max-members", type=_positive, default=MAX_MEMBERS, metavar="N",
                        help="runs of one shared computation at most (runs whose networks, "
                        "loss, batch and D steps agree train as one, whatever their method or "
                        "seed; each member's memory adds up)")


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a whole number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{value}: must be > 0")
    return value


def _add_threads(command: argparse.ArgumentParser) -> None:
    command.add_argument("--threads", type=_positive, metavar="N", help="torch's CPU threads "
                         "(default: the config's threads key; when null, 1 for points, torch's "
                         "default for images, or OMP_NUM_THREADS when set)")


def _floats(text: str, n: int | None, name: str) -> tuple[float, ...]:
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise UsageError(f"{name} {text!r}: expected comma-separated numbers") from None
    if n is not None and len(values) != n:
        raise UsageError(f"{name} {text!r}: expected {n} numbers")
    return values


def _dynamics(args: argparse.Namespace) -> None:
    from thermogan.dynamics import experiments as ex

    try:
        if args.experiment == "figure1":
            opt = ex.Figure1Options(args.f, args.alpha_r, args.alpha_0, args.T, args.T_slow,
                                    _floats(args.init, 3, "--init"),
                                    _floats(args.init_autonomous, 2, "--init-autonomous"),
                                    args.horizon, args.horizon_slow, args.coupling_sign)
            for path in ex.figure1(args.out, opt):
                print(f"wrote {path}")
            return
        T_values = _floats(args.T_values, None, "--T-values")
        init = _floats(args.init, 3, "--init") if args.init else None
        rows = ex.amplitude_table(list(T_values), args.f, args.lam, args.alpha_r, args.alpha_0,
                                  init, args.coupling_sign, args.horizon)
    except ValueError as err:
        raise UsageError(str(err)) from None
    print(ex.format_table(rows))
    for path in ex.write_amplitude(rows, args.out, args.alpha_0, args.alpha_r):
        print(f"wrote {path}")


def _data_fetch(args: argparse.Namespace) -> None:
    from thermogan.data.download import fetch_mnist

    folder = fetch_mnist(args.dir)
    print(f"MNIST verified in {folder}")


def _data_classifier(args: argparse.Namespace) -> None:
    import json

    from thermogan.data.download import data_dir
    from thermogan.data.images import load_mnist
    from thermogan.metrics import classifier as clf

    root = data_dir(args.dir)
    mnist = args.mnist or root / "mnist"
    x, y = load_mnist(mnist, "train")
    x_test, y_test = load_mnist(mnist, "test")
    model = clf.train_classifier(x, y, epochs=args.epochs, seed=args.seed)
    acc = clf.accuracy(model, x_test, y_test)
    out = args.out or root / "classifier" / "mnist_cnn.pt"
    digest = clf.save_classifier(model, out)
    record = {"weights": str(out), "sha256": digest, "test_accuracy": acc,
              "epochs": args.epochs, "seed": args.seed, "torch": __import__("torch").__version__}
    out.with_suffix(".json").write_text(json.dumps(record, indent=2) + "\n")
    print(f"test accuracy {100 * acc:.2f}%  weights {out}  sha256 {digest}")


#: The figure formats ``thermogan report --out`` writes
FIGURE_FORMATS = (".png", ".pdf", ".svg")


def _report(args: argparse.Namespace) -> None:
    import json

    from thermogan.experiment import runs, seeds
    from thermogan.experiment.outputs import check_output
    from thermogan.jsonio import restore_floats

    named = runs.expand_sweeps(args.run_dirs)  # a seed sweep stands for its members
    names = "_vs_".join(Path(d).resolve().name for d in args.run_dirs)
    out = args.out or Path(args.run_dirs[0]).parent / f"compare_{names}.png"
    check_output(out, args.force)
    if out.suffix not in FIGURE_FORMATS:
        raise UsageError(f"--out {out}: a figure is written as {', '.join(FIGURE_FORMATS)}")
    if args.html is not None:
        if args.html.resolve() == out.resolve():
            raise UsageError(f"--html {args.html}: the same file as the figure (--out)")
        check_output(args.html, args.force, "--html")
    from thermogan.report import run_figures

    for row in runs.compare(named, out):  # opens every run: a folder that is none fails here
        print(row)
    for run in named:  # the figures of each run's files, as the run drew them at its end
        run_figures.draw(run)
    for sweep in args.run_dirs:  # each seed sweep's metrics across its seeds
        record = Path(sweep) / seeds.SWEEP
        if runs.member_dirs(sweep) and record.is_file():
            print(f"{sweep}: {seeds.across_line(restore_floats(json.loads(record.read_text())))}")
    print(f"figure: {out}")
    if args.html is not None:
        print(f"report: {runs.html_report(named, args.html, [out])}")


def _list(args: argparse.Namespace) -> None:
    from thermogan.experiment.config import shipped

    if args.registry == "configs":  # the shipped configs: train them by name
        configs = shipped()
        width = max(map(len, configs))
        for name, what in configs.items():
            print(f"{name:<{width}}  {what}")
        return
    from thermogan.experiment.build import REGISTRIES, component_options

    if args.registry is not None and args.registry not in REGISTRIES:
        from thermogan.errors import unknown_key

        raise unknown_key("", args.registry, [*REGISTRIES, "configs"], what="registry")
    for name, registry in REGISTRIES.items():
        if args.registry not in (None, name):
            continue
        if not (args.options or args.registry):
            print(f"{name}: {', '.join(registry) or '(none yet)'}")
            continue
        print(f"{name}:" + ("" if registry else " (none yet)"))
        for kind in registry:
            options = component_options(name, kind)
            text = ", ".join(f"{key}={default}" for key, default in options) or "no options"
            print(f"  {kind}: {text}")


def _version() -> str:
    from thermogan import __version__

    return __version__


def _worth_saying(default: Any) -> bool:
    """A default to print in --help: not None, not a flag's False, not suppressed (0 is)."""
    return default is not None and default is not False and default != argparse.SUPPRESS


class _Defaults(argparse.HelpFormatter):
    """Help that ends each option with its default, when it has one worth saying."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text, default = action.help or "", action.default
        if action.option_strings and _worth_saying(default) and "default" not in text:
            text += " (default: %(default)s)"
        return text


class _Parser(argparse.ArgumentParser):
    """Every (sub)command's parser: help shows defaults."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _Defaults)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> typing.NoReturn:
        """A usage error in one line (argparse prints the usage block too): exit status 2."""
        print(f"thermogan: error: {self.prog}: {message} (see {self.prog} --help)",
              file=sys.stderr)
        sys.exit(2)

    def add_argument(self, *args: Any, **kwargs: Any) -> argparse.Action:
        if kwargs.get("help") is None and _worth_saying(kwargs.get("default")):
            kwargs["help"] = "default: %(default)s"  # an option without help still shows it
        return super().add_argument(*args, **kwargs)


def parser() -> argparse.ArgumentParser:
    p = _Parser(prog="thermogan", description="Temperature-controlled GAN training.")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    p.add_argument("--version", action="version", version=f"thermogan {_version()}")
    sub = p.add_subparsers(parser_class=_Parser, dest="command", required=True)

    t = sub.add_parser("train", help="train from a config (or resume a run)")
    t.add_argument("config", nargs="?", help="YAML config file, or the name of a shipped one "
                   "(thermogan list configs)")
    t.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="e.g. train.steps=1000")
    t.add_argument("--out", type=Path, help="run directory (default runs/<name>)")
    t.add_argument("--resume", type=Path, metavar="RUN_DIR", help="continue this run")
    t.add_argument("--device", help="auto | cpu | cuda (default: the config's)")
    _add_threads(t)
    t.add_argument("--check", action="store_true", help="check the config, its parts, data and "
                   "scorer as a start would, then stop: nothing is trained or written (e.g. "
                   "before torchrun, whose processes would each report a bad key)")
    t.add_argument("--seeds", metavar="SEEDS", help="train once per seed (e.g. 0-31 or 0,3,5) "
                   "into RUN_DIR/seed<N>/, as one ensemble when the config allows")
    t.set_defaults(func=_train)

    e = sub.add_parser("eval", help="score a run; writes RUN_DIR/eval.json")
    e.add_argument("run_dir", type=Path)
    e.add_argument("--samples", type=int, help="number of samples (default: the config's)")
    e.add_argument("--seed", type=int, help="latent seed (default: the config's)")
    e.add_argument("--classifier", type=Path, help="MNIST feature network (default: the config's)")
    e.add_argument("--device", default="cpu")
    _add_threads(e)
    e.set_defaults(func=_eval)

    s = sub.add_parser("sample", help="write generated samples to a .npy file (or a .png grid)")
    s.add_argument("run_dir", type=Path)
    s.add_argument("--n", type=int, help="samples (default 2,500), or per class with several "
                   "--labels (default 8)")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--out", type=Path, required=True)
    s.add_argument("--raw", action="store_true", help="use G, not its EMA copy")
    s.add_argument("--labels", help="conditional G: a class (3), classes (1,5,7) or all: one row "
                   "per class in a .png grid (default: labels drawn uniformly)")
    s.add_argument("--device", default="cpu")
    _add_threads(s)
    s.add_argument("--force", action="store_true", help="replace --out even if thermogan did "
                   "not write it (a run's own files are never replaced)")
    s.set_defaults(func=_sample)

    b = sub.add_parser("bench", help="benchmarks").add_subparsers(parser_class=_Parser,
                                                                  dest="bench", required=True)
    from thermogan.bench.registry import benches

    for name, bench in benches().items():
        sub_bench = b.add_parser(name, help=bench.help)
        _add_protocol_args(sub_bench, type(bench.protocol), bench.protocol, bench.quick)
        _add_run_args(sub_bench, f"bench-out/{name}", bench.protocol, bench.quick)
        sub_bench.set_defaults(func=_bench, declared=bench)
    st = sub.add_parser("study", help="a study file: data sets × methods (configs and "
                        "overrides) × seeds, with the table, statistics and figures of a bench")
    st.add_argument("file", type=Path, metavar="FILE.yaml")
    from thermogan.bench.study import Protocol

    _add_protocol_args(st, Protocol)
    _add_run_args(st, "bench-out/study")
    st.set_defaults(func=_bench)

    dyn = sub.add_parser("dynamics", help="tiny-GAN as a dynamical system (figures, amplitude)")
    dyn_sub = dyn.add_subparsers(parser_class=_Parser, dest="experiment", required=True)
    for name, text in (("figure1", "the four panels of the paper's Fig. 1"),
                       ("amplitude", "steady oscillation amplitude against T")):
        d = dyn_sub.add_parser(name, help=text)
        d.add_argument("--out", type=Path, default=Path("runs/dynamics"))
        d.add_argument("--f", default="linear", help="linear (WGAN) or js (Jensen-Shannon)")
        d.add_argument("--alpha-r", type=float, default=3.0, help="target data location")
        d.add_argument("--alpha-0", type=float, default=1.0, help="initial data location")
        d.add_argument("--coupling-sign", type=int, default=1, choices=(1, -1),
                       help="+1: α descends L (reproduces the paper); -1: eq. 8 as printed")
        d.set_defaults(func=_dynamics)
        if name == "figure1":
            d.add_argument("--T", type=float, default=3.0, help="annealing time, panels b, c")
            d.add_argument("--T-slow", type=float, default=30.0, help="annealing time, panel d")
            d.add_argument("--init", default="1,0,1", help="θ,ψ,α at t=0 for panels b-d")
            d.add_argument("--init-autonomous", default="1,2", help="θ,ψ at t=0 for panel a")
            d.add_argument("--horizon", type=float, default=60.0, help="final time, panels a-c")
            d.add_argument("--horizon-slow", type=float, default=150.0, help="final time, panel d")
        else:
            d.add_argument("--T-values", default="1,3,10,30,100")
            d.add_argument("--lam", type=int, default=0, choices=(0, 1), help="λ: 1 for β'-GAN")
            d.add_argument("--init", help="θ,ψ,α at t=0 (default: α_0,0,α_0)")
            d.add_argument("--horizon", type=float, default=12.0,
                           help="time before the 3-period measuring window, in units of T")

    data = sub.add_parser("data", help="data sets").add_subparsers(parser_class=_Parser,
                                                                   dest="data", required=True)
    fetch = data.add_parser("fetch", help="download a data set and verify its SHA-256 sums")
    fetch.add_argument("dataset", choices=["mnist"])
    fetch.add_argument("--dir", type=Path,
                       help="data folder (default: $THERMOGAN_DATA, else ~/.cache/thermogan)")
    fetch.set_defaults(func=_data_fetch)
    cl = data.add_parser("classifier", help="train the MNIST feature network of the image metrics")
    cl.add_argument("--dir", type=Path, help="data folder (as for fetch)")
    cl.add_argument("--mnist", type=Path, help="folder of the MNIST archives (default DIR/mnist)")
    cl.add_argument("--out", type=Path, help="weights file (default DIR/classifier/mnist_cnn.pt)")
    cl.add_argument("--epochs", type=int, default=4)
    cl.add_argument("--seed", type=int, default=0)
    cl.set_defaults(func=_data_classifier)

    r = sub.add_parser("report", help="compare runs: a table of metrics and a side-by-side "
                       "figure; each run's figures are drawn again from its files")
    r.add_argument("run_dirs", type=Path, nargs="+", metavar="RUN_DIR")
    r.add_argument("--out", type=Path, help="figure path (default: compare_<RUN>_vs_<RUN>.png "
                   "beside the first run)")
    r.add_argument("--html", type=Path, metavar="FILE", help="also write a self-contained HTML "
                   "page: metrics with their protocols, configs (differences highlighted), "
                   "logged curves, every figure of each run")
    r.add_argument("--force", action="store_true", help="replace --out and --html even if "
                   "thermogan did not write them (a run's own files are never replaced)")
    r.set_defaults(func=_report)

    ls = sub.add_parser("list", help="print every registry (with --options: each entry's "
                        "options and defaults)")
    ls.add_argument("registry", nargs="?", help="only this registry, with options "
                    "(datasets, generators, temperings, ...), or configs: the shipped configs, "
                    "each trained by its name (thermogan train ring8_betagan)")
    ls.add_argument("--options", action="store_true", help="each entry's options and defaults")
    ls.set_defaults(func=_list)
    return p


def _split_overrides(args: argparse.Namespace) -> None:
    """``train KEY=VALUE`` with no config file: the first positional is an override."""
    if args.command == "train" and args.config and "=" in args.config:
        args.overrides = [args.config, *args.overrides]
        args.config = None


def main(argv: list[str] | None = None) -> int:
    p = parser()
    args, extra = p.parse_known_args(argv)
    if args.command == "train":  # KEY=VALUE overrides may come after options too
        args.overrides += [e for e in extra if "=" in e and not e.startswith("-")]
        extra = [e for e in extra if e not in args.overrides]
        if args.threads is not None:  # --threads N is the override threads=N
            args.overrides.append(f"threads={args.threads}")
    if extra:
        p.error(f"unrecognized arguments: {' '.join(extra)}")
    _split_overrides(args)
    try:
        args.func(args)
    except ThermoganError as err:
        if args.debug:
            raise
        print(f"thermogan: error: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("thermogan: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head` and friends
        sys.stdout = open(os.devnull, "w")
        return 0
    except Exception as err:  # anything unforeseen: one line unless --debug
        if args.debug:
            raise
        print(f"thermogan: error: {type(err).__name__}: {err} (--debug shows the traceback)",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
