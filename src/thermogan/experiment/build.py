"""The one place where a config becomes objects: data set, networks, loss, optimizers, trainer.

Components chosen by ``kind`` are looked up in their registry, and their options are checked
against the factory's signature: an unknown option names the closest valid one, a value of the
wrong type names the expected type, and a factory's ValueError is reported against the key.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable
from typing import Any

import torch
from pydantic import TypeAdapter, ValidationError

from thermogan.experiment.config import Component, ExperimentConfig
from thermogan.data import DATASETS
from thermogan.data.images import ImageData
from thermogan.data.toy import ToyDataset
from thermogan.errors import ConfigError, unknown_key
from thermogan.nets import DISCRIMINATORS, GENERATORS
from thermogan.objectives.adversarial import LOSSES
from thermogan.schedules import SCHEDULES, schedule_from_dict
from thermogan.tempering import TEMPERINGS
from thermogan.tempering.base import Tempering
from thermogan.train.trainer import Trainer

REGISTRIES: dict[str, dict[str, Any]] = {
    "datasets": DATASETS,
    "generators": GENERATORS,
    "discriminators": DISCRIMINATORS,
    "losses": LOSSES,
    "schedules": SCHEDULES,
    "temperings": TEMPERINGS,
}


def resolve_device(name: str) -> torch.device:
    """``auto`` -> cuda when available, else cpu; anything else must be a valid torch device."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"device={name!r}: expected auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device={name!r}: CUDA is not available on this machine")
    return device


def checked_options(registry: dict[str, Callable[..., Any]], spec: Component, where: str,
                    n_args: int = 0) -> dict[str, Any]:
    """``spec``'s options, each checked against ``registry[spec.kind]``'s signature after its
    first ``n_args`` positional parameters."""
    if spec.kind not in registry:
        raise unknown_key(where, spec.kind, registry, what="kind")
    factory = registry[spec.kind]
    params = list(inspect.signature(factory).parameters)[n_args:]
    hints = typing.get_type_hints(factory)
    options = spec.options()
    for key, value in options.items():
        if key not in params:
            raise unknown_key(where, key, ["kind", *params])
        if key in hints:
            try:
                options[key] = TypeAdapter(hints[key]).validate_python(value)
            except ValidationError:
                hint = hints[key]
                expected = (hint.__name__ if isinstance(hint, type)
                            else str(hint).replace("collections.abc.", ""))
                raise ConfigError(f"{where}.{key}={value!r}: expected {expected}") from None
    return options


def call_component(registry: dict[str, Callable[..., Any]], spec: Component, where: str,
                   *args: Any) -> Any:
    """``registry[spec.kind](*args, **options)`` with every option checked first."""
    options = checked_options(registry, spec, where, len(args))
    try:
        return registry[spec.kind](*args, **options)
    except ValueError as err:
        raise ConfigError(f"{where}.{err}") from None


def check_components(cfg: ExperimentConfig) -> None:
    """Every component's kind and option names and types, checked without building anything
    (values that only the factory can judge are checked when it runs)."""
    checked_options(DATASETS, cfg.data, "data")
    checked_options(GENERATORS, cfg.model.generator, "model.generator", 2)
    checked_options(DISCRIMINATORS, cfg.model.discriminator, "model.discriminator", 1)
    if cfg.tempering is not None:
        checked_options(TEMPERINGS, cfg.tempering, "tempering", 2)
    if cfg.objective.loss not in LOSSES:
        raise unknown_key("objective", cfg.objective.loss, LOSSES, what="loss")


def build_data(cfg: ExperimentConfig) -> ToyDataset | ImageData:
    """The data set, mapped into ``data.box`` when one is set (images live in [−1, 1])."""
    data = call_component(DATASETS, cfg.data, "data")
    if cfg.data.box is None or isinstance(data, ImageData) and cfg.data.box == data.box:
        return data
    if isinstance(data, ImageData):
        raise ConfigError(f"data.box={list(cfg.data.box)!r}: images live in [-1, 1]; "
                          "set data.box to [-1, 1] or null")
    return data.in_box(*cfg.data.box)


def build_tempering(cfg: ExperimentConfig, data: ToyDataset | ImageData) -> Tempering | None:
    if cfg.tempering is None:
        return None
    return call_component(TEMPERINGS, cfg.tempering, "tempering", cfg.train.steps, data)


def build_trainer(cfg: ExperimentConfig, device: torch.device | None = None) -> Trainer:
    """A fresh Trainer for ``cfg``; weights are initialised from ``cfg.seed``."""
    device = device or resolve_device(cfg.device)
    check_components(cfg)
    data = build_data(cfg)
    torch.manual_seed(cfg.seed)
    G = call_component(GENERATORS, cfg.model.generator, "model.generator",
                       cfg.model.z_dim, data.shape)
    D = call_component(DISCRIMINATORS, cfg.model.discriminator, "model.discriminator",
                       data.shape)
    opt = cfg.optim
    g_opt = torch.optim.Adam(G.parameters(), opt.g_lr, betas=opt.betas)
    d_opt = torch.optim.Adam(D.parameters(), opt.d_lr, betas=opt.betas)
    lr_schedule = None if opt.lr_decay is None else schedule_from_dict(opt.lr_decay,
                                                                      "optim.lr_decay")
    return Trainer(G, D, data, z_dim=cfg.model.z_dim, loss=cfg.objective.loss,
                   g_optimizer=g_opt, d_optimizer=d_opt, batch_size=cfg.train.batch_size,
                   d_steps=cfg.train.d_steps, gp_weight=cfg.objective.gp_weight,
                   ema=cfg.train.ema, tempering=build_tempering(cfg, data), lr_schedule=lr_schedule, z_dist=cfg.model.z_dist,
                   seed=cfg.seed, device=device)
