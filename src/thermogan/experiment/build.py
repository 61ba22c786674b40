"""The one place where a config becomes objects: data set, networks, loss, temperings, G terms,
optimizers, trainer.

Components chosen by ``kind`` are looked up in their registry, and their options are checked
against the factory's signature: an unknown option names the closest valid one, a value of the
wrong type names the expected type, and a factory's ValueError is reported against the key.
"""

from __future__ import annotations

import dataclasses
import inspect
import os
import typing
from collections.abc import Callable
from typing import Any

import torch
import yaml
from pydantic import TypeAdapter, ValidationError
from torch.nn.utils import parametrize

from thermogan.data import DATASETS
from thermogan.data.energy import EnergyData
from thermogan.data.images import ImageData
from thermogan.data.toy import ToyDataset
from thermogan.errors import ConfigError, unknown_key
from thermogan.experiment.config import Component, ExperimentConfig
from thermogan.nets import DISCRIMINATORS, GENERATORS
from thermogan.nets.packed import pack_size
from thermogan.objectives.adversarial import LOSSES, get_loss
from thermogan.objectives.penalties import PENALTIES, Penalty
from thermogan.objectives.terms import G_TERMS, WeightedTerm
from thermogan.optim import OPTIMIZERS
from thermogan.optim.estimators import VARIANCE_ESTIMATORS
from thermogan.schedules import SCHEDULES, schedule_from_dict
from thermogan.tempering import CONTROLLERS, TEMPERINGS, level_source
from thermogan.tempering.base import Tempering
from thermogan.train.distributed import local_device
from thermogan.train.trainer import Trainer

#: Every kind of data set the build makes.
AnyData = ToyDataset | ImageData | EnergyData

REGISTRIES: dict[str, dict[str, Any]] = {
    "datasets": DATASETS,
    "generators": GENERATORS,
    "discriminators": DISCRIMINATORS,
    "losses": LOSSES,
    "penalties": PENALTIES,
    "optimizers": OPTIMIZERS,
    "variance_estimators": VARIANCE_ESTIMATORS,
    "schedules": SCHEDULES,
    "controllers": CONTROLLERS,
    "temperings": TEMPERINGS,
    "g_terms": G_TERMS,
}

#: Leading arguments each registry's factories take from the trainer, not from the config (and
#: keywords set by other keys: a network's classes come from model.conditional).
GIVEN = {"generators": (2, ("num_classes",)), "discriminators": (1, ("num_classes",)),
         "temperings": (2, ()), "optimizers": (1, ()),
         "g_terms": (1, ("discriminator", "d_optimizer", "loss", "penalty", "temperings"))}


def component_options(registry: str, kind: str) -> list[tuple[str, str]]:
    """(option, default) of one registry entry as a config sets it; "required" when it has no
    default (``thermogan list --options``)."""
    entry = REGISTRIES[registry][kind]
    if isinstance(entry, type) and dataclasses.is_dataclass(entry):  # schedules
        return [(f.name, "required" if f.default is dataclasses.MISSING else _yaml(f.default))
                for f in dataclasses.fields(entry)]
    if not callable(entry):  # losses: chosen by name, no options
        return []
    skip, given = GIVEN.get(registry, (0, ()))
    params = list(inspect.signature(entry).parameters.values())[skip:]
    return [(p.name, "required" if p.default is inspect.Parameter.empty else _yaml(p.default))
            for p in params if p.name not in given
            and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]


def _yaml(value: Any) -> str:
    """A default as one would write it in a config (null, true, [0.5, 0.999], both)."""
    value = list(value) if isinstance(value, tuple) else value
    return yaml.safe_dump(value, default_flow_style=True).strip().removesuffix("...").strip()


def resolve_device(name: str) -> torch.device:
    """``auto`` -> cuda when available, else cpu; anything else must be a valid torch device.
    Under torchrun, ``cuda`` is each process's own GPU (``LOCAL_RANK``)."""
    if name == "auto":
        return local_device(torch.device("cuda" if torch.cuda.is_available() else "cpu"))
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"device={name!r}: expected auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device={name!r}: CUDA is not available on this machine")
    return local_device(device)


def checked_options(registry: dict[str, Callable[..., Any]], spec: Component, where: str,
                    n_args: int = 0, exclude: tuple[str, ...] = ()) -> dict[str, Any]:
    """``spec``'s options (but ``exclude``), each checked against ``registry[spec.kind]``'s
    signature after its first ``n_args`` positional parameters."""
    if spec.kind not in registry:
        raise unknown_key(where, spec.kind, registry, what="kind")
    factory = registry[spec.kind]
    params = list(inspect.signature(factory).parameters)[n_args:]
    hints = typing.get_type_hints(factory.__init__ if isinstance(factory, type) else factory)
    options = {k: v for k, v in spec.options().items() if k not in exclude}
    for key, value in options.items():
        if key not in params:
            raise unknown_key(where, key, ["kind", *params, *exclude])
        if key in hints:
            try:
                options[key] = TypeAdapter(hints[key]).validate_python(value)
            except ValidationError:
                raise ConfigError(f"{where}.{key}={value!r}: expected "
                                  f"{_describe_type(hints[key])}") from None
    return options


def _describe_type(hint: Any) -> str:
    """A type hint in words: "one of a, b, c" for a Literal, the name of a class, else its text."""
    if typing.get_origin(hint) is typing.Literal:
        return "one of " + ", ".join(str(v) for v in typing.get_args(hint))
    if isinstance(hint, type):
        return hint.__name__
    return str(hint).replace("collections.abc.", "")


def call_component(registry: dict[str, Callable[..., Any]], spec: Component, where: str,
                   *args: Any, exclude: tuple[str, ...] = (), **given: Any) -> Any:
    """``registry[spec.kind](*args, **options, **given)`` with every option checked first;
    ``given`` are keywords the config does not set (a network's ``num_classes``)."""
    options = checked_options(registry, spec, where, len(args), exclude)
    try:
        return registry[spec.kind](*args, **options, **given)
    except ConfigError:
        raise
    except ValueError as err:
        raise ConfigError(f"{where}.{err}") from None


def _tempering_where(cfg: ExperimentConfig, i: int) -> str:
    return f"tempering[{i}]" if isinstance(cfg.tempering, list) else "tempering"


def _regulariser_where(cfg: ExperimentConfig, i: int) -> str:
    return f"regulariser[{i}]" if isinstance(cfg.regulariser, list) else "regulariser"


def check_components(cfg: ExperimentConfig) -> None:
    """Every component's kind and option names and types, checked without building anything
    (values that only the factory can judge are checked when it runs)."""
    checked_options(DATASETS, cfg.data, "data")
    for where, spec in (("model.generator", cfg.model.generator),
                        ("model.discriminator", cfg.model.discriminator)):
        if "num_classes" in spec.options():
            raise ConfigError(f"{where}.num_classes: set model.conditional=true instead; the "
                              "classes come from the data")
    checked_options(GENERATORS, cfg.model.generator, "model.generator", GIVEN["generators"][0])
    checked_options(DISCRIMINATORS, cfg.model.discriminator, "model.discriminator",
                    GIVEN["discriminators"][0])
    for i, spec in enumerate(cfg.temperings()):
        checked_options(TEMPERINGS, spec, _tempering_where(cfg, i), GIVEN["temperings"][0])
    for i, spec in enumerate(cfg.regularisers()):
        where = _regulariser_where(cfg, i)
        for key in GIVEN["g_terms"][1]:
            if key in spec.options():
                raise ConfigError(f"{where}.{key}: set by the build (the run's own), not the "
                                  "config")
        checked_options(G_TERMS, spec, where, GIVEN["g_terms"][0], exclude=("weight",))
    for where, spec in (("optim.g", cfg.optim.g), ("optim.d", cfg.optim.d)):
        checked_options(OPTIMIZERS, spec, where, GIVEN["optimizers"][0],
                        exclude=_temperature_level(spec, where)[1] + tuple(_variance(spec, where)))
    if cfg.objective.loss not in LOSSES:
        raise unknown_key("objective", cfg.objective.loss, LOSSES, what="loss")
    if cfg.objective.penalty is not None:
        checked_options(PENALTIES, cfg.objective.penalty, "objective.penalty")


def build_penalty(cfg: ExperimentConfig) -> Penalty | None:
    """The gradient penalty of ``objective.penalty`` (None: the loss's default)."""
    spec = cfg.objective.penalty
    return None if spec is None else call_component(PENALTIES, spec, "objective.penalty")


def _temperature_level(spec: Component, where: str) -> tuple[Any, tuple[str, ...]]:
    """A Langevin optimizer's temperature given as a schedule or a controller: its level (the
    trainer writes its value each step) and the option it takes out of the factory's call;
    (None, ()) for a number or an optimizer without a temperature."""
    temperature = spec.options().get("temperature")
    factory = OPTIMIZERS.get(spec.kind)
    if not isinstance(temperature, dict) or factory is None or \
            "temperature" not in inspect.signature(factory).parameters:
        return None, ()
    return level_source(temperature, f"{where}.temperature"), ("temperature",)


def _variance(spec: Component, where: str) -> dict[str, Any]:
    """``{"variance": estimator}`` for a Langevin optimizer given ``variance: {kind, ...}``
    (``optim/estimators.py``), built and checked; {} otherwise."""
    raw = spec.options().get("variance")
    factory = OPTIMIZERS.get(spec.kind)
    if raw is None or factory is None or "variance" not in inspect.signature(factory).parameters:
        return {}
    if not isinstance(raw, dict) or "kind" not in raw:
        raise ConfigError(f"{where}.variance={raw!r}: expected {{kind: per_example | "
                          "microbatch, ...options}")
    estimator = Component.model_validate(raw)
    return {"variance": call_component(VARIANCE_ESTIMATORS, estimator, f"{where}.variance")}


def build_optimizer(spec: Component, where: str,
                    params: Any) -> tuple[torch.optim.Optimizer, Any]:
    """The optimizer of ``spec`` and its temperature level (None: a number or no temperature);
    a level's value at step 0 builds the optimizer."""
    level, exclude = _temperature_level(spec, where)
    given = {**_variance(spec, where), **({} if level is None else
                                          {"temperature": float(level(0))})}
    return call_component(OPTIMIZERS, spec, where, params, exclude=exclude + tuple(given),
                          **given), level


def build_data(cfg: ExperimentConfig) -> AnyData:
    """The data set, mapped into ``data.box`` when one is set (images live in [−1, 1])."""
    data = call_component(DATASETS, cfg.data, "data")
    if cfg.data.box is None or data.is_image and cfg.data.box == data.box:
        return data
    if data.is_image:
        raise ConfigError(f"data.box={list(cfg.data.box)!r}: images live in [-1, 1]; "
                          "set data.box to [-1, 1] or null")
    try:
        return data.in_box(*cfg.data.box)
    except ValueError as err:  # e.g. an energy, whose target cannot be moved
        raise ConfigError(f"data.{err}") from None


def build_temperings(cfg: ExperimentConfig, data: AnyData) -> list[Tempering]:
    """The temperings in the order they apply, their schedules laid out over
    ``train.schedule_steps`` (``train.steps`` when null)."""
    steps = cfg.with_fixed_schedules().train.schedule_steps
    return [call_component(TEMPERINGS, spec, _tempering_where(cfg, i), steps, data)
            for i, spec in enumerate(cfg.temperings())]


def build_g_terms(cfg: ExperimentConfig, data: AnyData,
                  parts: dict[str, Any]) -> list[WeightedTerm]:
    """Each G term of ``regulariser`` with its weight (a number, a schedule or a controller, e.g.
    ``{kind: adaptive, hot: λ_max}``: λ between 0 and λ_max; default 1); a factory gets the
    run's ``parts`` it takes (``GIVEN``: D, D's optimizer, the loss, the gradient penalty, the
    temperings)."""
    terms = []
    for i, spec in enumerate(cfg.regularisers()):
        where = _regulariser_where(cfg, i)
        params = inspect.signature(G_TERMS[spec.kind]).parameters
        given = {key: value for key, value in parts.items() if key in params}
        term = call_component(G_TERMS, spec, where, data, exclude=("weight",), **given)
        weight = level_source(spec.options().get("weight", 1.0), f"{where}.weight",
                              minimum=term.weight_minimum)
        terms.append(WeightedTerm(term, weight))
    return terms


def num_classes(cfg: ExperimentConfig, data: AnyData) -> int | None:
    """The classes a conditional model is given (None when ``model.conditional`` is false)."""
    if not cfg.model.conditional:
        return None
    if data.num_classes is None:
        raise ConfigError(f"model.conditional=true: data {cfg.data.kind!r} has no labels; "
                          "set model.conditional=false or choose labelled data")
    return data.num_classes


def apply_threads(threads: int | None, is_image: bool) -> None:
    """Set torch's CPU threads: ``threads`` when given; otherwise one for data of points unless
    OMP_NUM_THREADS says otherwise (torch reads it), and torch's default for images (config key
    ``threads``)."""
    if threads is not None:
        torch.set_num_threads(threads)
    elif not is_image and "OMP_NUM_THREADS" not in os.environ:
        torch.set_num_threads(1)


def build_trainer(cfg: ExperimentConfig, device: torch.device | None = None) -> Trainer:
    """A fresh Trainer for ``cfg``; weights are initialised from ``cfg.seed``."""
    device = device or resolve_device(cfg.device)
    check_components(cfg)
    data = build_data(cfg)
    apply_threads(cfg.threads, data.is_image)
    classes = num_classes(cfg, data)
    torch.manual_seed(cfg.seed)
    G = call_component(GENERATORS, cfg.model.generator, "model.generator",
                       cfg.model.z_dim, data.shape, num_classes=classes)
    D = call_component(DISCRIMINATORS, cfg.model.discriminator, "model.discriminator",
                       data.shape, num_classes=classes)
    opt = cfg.optim
    g_opt, g_temperature = build_optimizer(opt.g, "optim.g", G.parameters())
    d_opt, d_temperature = build_optimizer(opt.d, "optim.d", D.parameters())
    lr_schedule = None if opt.lr_decay is None else schedule_from_dict(opt.lr_decay,
                                                                      "optim.lr_decay")
    temperings, loss, penalty = build_temperings(cfg, data), get_loss(cfg.objective.loss), \
        build_penalty(cfg)
    parts = {"discriminator": D, "d_optimizer": d_opt, "loss": loss,
             "penalty": loss.penalty_in_effect(penalty), "temperings": temperings}
    trainer = Trainer(G, D, data, z_dim=cfg.model.z_dim, loss=loss,
                      g_optimizer=g_opt, d_optimizer=d_opt, batch_size=cfg.train.batch_size,
                      d_steps=cfg.train.d_steps, penalty=penalty,
                      ema=cfg.train.ema, temperings=temperings,
                      g_terms=build_g_terms(cfg, data, parts), num_classes=classes,
                      lr_schedule=lr_schedule, z_dist=cfg.model.z_dist, seed=cfg.seed,
                      amp=cfg.train.amp, temperatures={"g": g_temperature, "d": d_temperature},
                      device=device)
    packs = pack_size(D)
    if cfg.train.batch_size % packs:
        raise ConfigError(f"model.discriminator.packs={packs}: train.batch_size="
                          f"{cfg.train.batch_size} does not divide into packs of {packs}")
    for controller in trainer.controllers:  # an adaptive level counts images, m per logit
        controller.judge_packs(packs)
    check_amp(cfg, trainer)
    if cfg.train.compile:
        compile_networks(cfg, trainer)
    return trainer


def compile_networks(cfg: ExperimentConfig, trainer: Trainer) -> None:
    """Compile the trainer's G and D in place (``nn.Module.compile``: parameter names, hence
    checkpoints, do not change). G's EMA copy, made by the trainer, only samples: uncompiled.

    Refused where it cannot work (torch 2.13): a gradient penalty differentiates D twice, which
    compiled code does not support; spectral norm's power iteration updates its vectors in place
    inside the compiled graph, which fails D's first backward; and ``nn.Module.compile`` traces
    from the network's own ``forward``, while torch skips its own modules' code, so a network
    that is a bare torch container (the ``mlp`` networks: an nn.Sequential) would not be
    compiled at all."""
    if any(parametrize.is_parametrized(m) for m in trainer.D.modules()):
        raise ConfigError("train.compile=true: model.discriminator.spectral_norm updates its "
                          "power iteration in place inside the compiled graph, which fails D's "
                          "backward (torch 2.13); set train.compile=false or spectral_norm=false")
    if trainer.penalty is not None:
        raise ConfigError("train.compile=true: the gradient penalty differentiates D twice, "
                          "which torch.compile does not support (no double backward through "
                          "compiled code); set train.compile=false")
    for where, spec, net in (("model.generator", cfg.model.generator, trainer.G),
                             ("model.discriminator", cfg.model.discriminator, trainer.D)):
        if type(net).forward.__module__.startswith("torch."):
            raise ConfigError(f"train.compile=true: {where} ({spec.kind}) is a bare torch "
                              f"{type(net).__name__}, which nn.Module.compile leaves uncompiled "
                              "(torch skips its own modules' forward); set train.compile=false")
    trainer.G.compile()
    trainer.D.compile()


def check_amp(cfg: ExperimentConfig, trainer: Trainer) -> None:
    """ConfigError when ``train.amp`` cannot work for the run ``trainer`` is."""
    if cfg.train.amp is None:
        return
    where = f"train.amp={cfg.train.amp}"
    if not trainer.data.is_image:
        raise ConfigError(f"{where}: mixed precision is for image data; a toy mixture's modes "
                          "are about as narrow as bfloat16's spacing there (the ring's std 0.01 "
                          "at radius 1: 1/128; the grid's 0.05 at 4: 1/32); set train.amp=null")
    if trainer.d_variance is not None:
        raise ConfigError(f"{where}: an SGLD D with covariance or ccadl noise sets its noise "
                          "from per-example gradients taken in float32; set train.amp=null")
