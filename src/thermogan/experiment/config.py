"""Typed experiment configs: YAML files plus dotted ``key=value`` overrides, checked strictly.

``load(path, overrides)`` returns an ``ExperimentConfig``. An unknown or mistyped key, a value of
the wrong type or an impossible value raises ``ConfigError`` with one line naming the key, the value
and, for unknown keys, the closest valid key. Components chosen by ``kind`` (data set, networks)
carry their own options; ``build.py`` checks those against the component's signature.

This module does not import torch.
"""

from __future__ import annotations

import math
import typing
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from thermogan.errors import ConfigError, closest, unknown_key
from thermogan.schedules import check_range, schedule_from_dict


class Strict(BaseModel):
    """Base for config sections: unknown keys are errors; assignments are validated."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class Component(BaseModel):
    """A registry entry chosen by ``kind``, with its options as further keys."""

    model_config = ConfigDict(extra="allow")

    kind: str  # registry name (see `thermogan list`)

    @model_validator(mode="before")
    @classmethod
    def _names_its_kind(cls, raw: Any) -> Any:
        if isinstance(raw, dict) and "kind" not in raw and cls.model_fields["kind"].is_required():
            raise ValueError(f"{raw!r} names no kind (see `thermogan list` for the kinds)")
        return raw

    def options(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


ScheduleSpec = float | dict[str, Any]


def _check_schedule(value: ScheduleSpec | None, where: str,
                    minimum: float | None = None) -> ScheduleSpec | None:
    if value is not None:
        check_range(schedule_from_dict(value, where), where, minimum)
    return value


class DataConfig(Component):
    """The data set: a toy distribution from `thermogan list` and its options (radius, std, ...)."""

    kind: str = "ring"  # the data set; its options are further keys of data (radius, std, ...)
    box: tuple[float, float] | None = None  # [a, b]: map the data into the cube [a, b]^d by one
    # isotropic affine map (the cube enclosing every component, 3 std around a Gaussian's centre,
    # onto the box; one scale on every axis keeps the mode metrics); β-GAN's heat needs it, and
    # its vanilla twins use the same map. Images live in [-1, 1] already: null or [-1, 1]. null:
    # the data as they are

    @field_validator("box")
    @classmethod
    def _box_is_ordered(cls, value: tuple[float, float] | None) -> tuple[float, float] | None:
        if value is not None and not value[1] > value[0]:
            raise ValueError("expected [low, high] with high > low")
        return value


class ModelConfig(Strict):
    """Generator and discriminator."""

    generator: Component = Component(kind="mlp", hidden=[128, 128])  # G: z -> x
    discriminator: Component = Component(kind="mlp", hidden=[128, 128])  # D: x -> logit
    z_dim: int = Field(2, gt=0)  # dimension of the latent z
    z_dist: Literal["normal", "uniform"] = "normal"  # N(0, I), or U[-1, 1]^z_dim
    conditional: bool = False  # class-conditional G(z, y) and D(x, y) on the data's labels


class ObjectiveConfig(Strict):
    """The adversarial loss and the gradient penalty on D (see `thermogan list`)."""

    loss: str = "minimax"  # the adversarial loss: D's and G's terms on D's logits
    penalty: Component | None = None  # on D's input gradients: {kind: wgan_gp | r1 | r2,
    # weight}; null: the loss's default (wgan-gp: {kind: wgan_gp, weight: 10}); weight 0: none

    @model_validator(mode="before")
    @classmethod
    def _refuse_replaced_keys(cls, raw: Any) -> Any:
        if isinstance(raw, dict) and "g_terms" in raw:
            raise ConfigError("objective.g_terms was replaced by the top-level key regulariser "
                              "(one term or a list, each {kind, weight, ...options})")
        if isinstance(raw, dict) and "gp_weight" in raw:  # run folders keep this spelling
            raw, weight = dict(raw), raw["gp_weight"]
            del raw["gp_weight"]
            if weight is not None and raw.get("penalty") is not None:
                raise ConfigError("objective.gp_weight is the old spelling of "
                                  "objective.penalty.weight; give objective.penalty only")
            if weight is not None:
                raw["penalty"] = {"kind": "wgan_gp", "weight": weight}
        return raw


#: Keys of the optim section before optimizers became components, and where they went.
REPLACED_OPTIM_KEYS = {"g_lr": "optim.g.lr", "d_lr": "optim.d.lr",
                       "betas": "optim.g.betas and optim.d.betas"}


def _refuse_old_variance(spec: Any, where: str) -> None:
    """Refuse the variance estimator's spelling of before it was a component."""
    if not isinstance(spec, dict):
        return
    old = [key for key in ("microbatches", "chunk") if key in spec]
    if isinstance(spec.get("variance"), str) or old:
        said = ", ".join(f"{k}: {spec[k]}" for k in ("variance", *old) if k in spec)
        raise ConfigError(f"{where}: {{{said}}} was replaced by {where}.variance: {{kind: "
                          "per_example, chunk: null} or {kind: microbatch, microbatches: 8}")


class OptimConfig(Strict):
    """One optimizer per player (see `thermogan list`); ``lr_decay`` multiplies both learning
    rates at each step."""

    g: Component = Component(kind="adam", lr=1e-3, betas=[0.5, 0.999])  # G's optimizer
    d: Component = Component(kind="adam", lr=1e-3, betas=[0.5, 0.999])  # D's optimizer
    lr_decay: ScheduleSpec | None = None  # schedule of a learning-rate multiplier; null: 1

    @model_validator(mode="before")
    @classmethod
    def _refuse_replaced_keys(cls, raw: Any) -> Any:
        if isinstance(raw, dict):
            for key, new in REPLACED_OPTIM_KEYS.items():
                if key in raw:
                    raise ConfigError(f"optim.{key} was replaced by {new}: optimizers are "
                                      "components, e.g. optim.g: {kind: adam, lr: 2.0e-4, "
                                      "betas: [0.5, 0.999]}")
            for side in ("g", "d"):
                _refuse_old_variance(raw.get(side), f"optim.{side}")
        return raw

    @field_validator("lr_decay")
    @classmethod
    def _lr_decay_is_schedule(cls, value: ScheduleSpec | None) -> ScheduleSpec | None:
        return _check_schedule(value, "optim.lr_decay", minimum=0.0)  # < 0: gradient ascent


class TrainConfig(Strict):
    """The training loop."""

    steps: int = Field(20000, gt=0)  # total training steps (one step = D steps + G step)
    schedule_steps: int | None = Field(None, gt=0)  # steps the temperings' schedules span;
    # null: train.steps. A run records it when it starts, so training longer (--resume with more
    # train.steps) continues at the cold end instead of stretching the schedules
    batch_size: int = Field(256, gt=0)  # samples per batch, real and fake
    d_steps: int = Field(1, gt=0)  # discriminator steps per generator step
    ema: float | None = Field(None, gt=0, lt=1)  # EMA decay of G's weights; null: no EMA
    log_every: int = Field(100, gt=0)  # steps between lines of metrics.jsonl
    checkpoint_every: int = Field(5000, gt=0)  # steps between checkpoints (and one at the end)
    keep_checkpoints: bool = False  # keep step_N.pt beside latest.pt
    tensorboard: bool = True  # write TensorBoard events when tensorboard is installed
    progress: bool = True  # show a progress bar
    compile: bool = False  # compile G and D with torch.compile (in place: checkpoints unchanged)
    amp: Literal["bf16"] | None = None  # G's and D's training forward passes in bfloat16
    # (torch.autocast; image data only); null: float32. float16 is not offered: it needs loss
    # scaling, bfloat16 does not

    @field_validator("amp", mode="before")
    @classmethod
    def _amp_is_bf16(cls, value: Any) -> Any:
        if value in ("fp16", "float16", "half"):
            raise ValueError("float16 is not offered (it needs loss scaling); use bf16")
        return value


class EvalConfig(Strict):
    """How `thermogan eval` and the end of training score a run."""

    samples: int | None = Field(None, gt=0)  # generated samples scored; null: the protocol's
    # (2,500 for toy mixtures (PacGAN), 10,000 for MNIST, 26,000 for Stacked MNIST, 50,000 for
    # an energy's grid)
    seed: int = 0  # seed of the evaluation's latent draws
    threshold: float = Field(3.0, gt=0)  # high quality: within threshold * std of a centre
    use_ema: bool = True  # score the EMA generator when there is one
    classifier: str | None = None  # MNIST feature network; null: DATA/classifier/mnist_cnn.pt
    track_every: int | None = Field(None, gt=0)  # log fd_mnist every N steps; null: never
    track_samples: int = Field(2000, gt=1)  # generated samples per tracked fd_mnist
    snapshot_every: int | None = Field(None, gt=0)  # save samples and what D saw every N steps
    # (figures/snapshots.png: generated vs lensed images over training); null: never


class ExperimentConfig(Strict):
    """One experiment: everything `thermogan train` needs."""

    name: str = "experiment"  # run name (default run directory: runs/<name>)
    seed: int = 0  # seeds weights, data and latent draws
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    threads: int | None = Field(None, gt=0)  # torch's CPU threads; null: by the work, 1 for
    # points (a toy run is faster on one, and two collapse on a busy machine), torch's default
    # for images; OMP_NUM_THREADS, when set, is honoured instead of the default
    data: DataConfig = DataConfig()
    tempering: Component | list[Component] | None = None  # what D sees: one tempering or a list
    # applied in order; null: the data as they are
    model: ModelConfig = ModelConfig()
    regulariser: Component | list[Component] | None = None  # terms added to G's loss: one or a
    # list of {kind, weight (number, schedule or controller, default 1), ...options}; null: none
    objective: ObjectiveConfig = ObjectiveConfig()
    optim: OptimConfig = OptimConfig()
    train: TrainConfig = TrainConfig()
    eval: EvalConfig = EvalConfig()

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def with_fixed_schedules(self) -> ExperimentConfig:
        """This config with ``train.schedule_steps`` set (to ``train.steps`` when null)."""
        if self.train.schedule_steps is not None:
            return self
        train = self.train.model_copy(update={"schedule_steps": self.train.steps})
        return self.model_copy(update={"train": train})

    def temperings(self) -> list[Component]:
        """The tempering components, in the order they apply (none, one, or a list)."""
        if self.tempering is None:
            return []
        return self.tempering if isinstance(self.tempering, list) else [self.tempering]

    def regularisers(self) -> list[Component]:
        """The G terms (the ``regulariser`` key: none, one, or a list)."""
        if self.regulariser is None:
            return []
        return self.regulariser if isinstance(self.regulariser, list) else [self.regulariser]


def parse_override(text: str) -> tuple[list[str], Any]:
    """``a.b.c=value`` -> (["a", "b", "c"], value); the value is read as YAML ([1, 2], null)."""
    if "=" not in text:
        raise ConfigError(f"override {text!r}: expected KEY=VALUE, e.g. train.steps=1000")
    key, raw = text.split("=", 1)
    parts = key.strip().split(".")
    if not all(parts):
        raise ConfigError(f"override {text!r}: empty key")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return parts, value


def apply_overrides(raw: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Set each dotted key of ``overrides`` in the nested dict ``raw`` (in place) and return it."""
    for text in overrides:
        parts, value = parse_override(text)
        node = raw
        for i, part in enumerate(parts[:-1]):
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                where = ".".join(parts[: i + 1])
                raise ConfigError(f"override {text!r}: '{where}' is a value, not a section")
            node = child
        node[parts[-1]] = value
    return raw


def _resolve(loc: tuple[Any, ...]) -> tuple[list[str], type[BaseModel] | None]:
    """The longest prefix of ``loc`` that names config fields, and the section it ends in."""
    model: Any = ExperimentConfig
    names: list[str] = []
    for part in loc:
        fields = getattr(model, "model_fields", None)
        if fields is None or part not in fields:
            break
        names.append(str(part))
        model = fields[part].annotation
    section = model if isinstance(model, type) and issubclass(model, BaseModel) else None
    return names, section


def _error_line(err: ValidationError) -> ConfigError:
    errors = err.errors()  # a union's value (one or a list) fails once per branch: say why
    first = next((e for e in errors if e["type"] == "value_error"), errors[0])
    cause = (first.get("ctx") or {}).get("error")
    if isinstance(cause, ConfigError):
        return cause
    names, section = _resolve(tuple(first["loc"]))
    if first["type"] == "extra_forbidden":
        unknown = str(first["loc"][len(names)])
        return unknown_key(".".join(names), unknown, list(section.model_fields) if section else [])
    message = first["msg"].removeprefix("Value error, ")
    items = "".join(f"[{part}]" for part in first["loc"][len(names):] if isinstance(part, int))
    return ConfigError(f"{'.'.join(names) or 'config'}{items}={first.get('input')!r}: {message}")


def _admits(annotation: Any, kind: type) -> bool:
    return annotation is kind or kind in typing.get_args(annotation)


#: How YAML (as a string) or Python spell the numbers that are not finite; pydantic reads them
NON_FINITE_WORDS = ("nan", "inf", "infinity")


def check_numbers(value: Any, where: str, model: Any = None) -> None:
    """Refuse, at any depth of a raw config, a number that is NaN or infinite, or a word that
    spells one where a text is not expected (no option of any component, schedule or controller
    means one), and true/false where the field of ``model`` is not a flag (pydantic would read
    ``true`` as the number 1). ``model``: the section's class or annotation, when known."""
    if isinstance(value, dict):
        fields = model.model_fields if isinstance(model, type) and issubclass(
            model, BaseModel) else {}
        for key, item in value.items():
            field = fields.get(key)
            here = f"{where}.{key}" if where else str(key)
            if isinstance(item, bool) and field is not None and not _admits(field.annotation, bool):
                raise ConfigError(f"{here}={item!r}: expected a number, not true or false")
            check_numbers(item, here, field.annotation if field is not None else None)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            check_numbers(item, f"{where}[{i}]")
    elif (isinstance(value, float) and not math.isfinite(value)
          or isinstance(value, str) and not _admits(model, str)
          and value.strip().lower().lstrip("+-") in NON_FINITE_WORDS):
        raise ConfigError(f"{where}={value!r}: expected a finite number")


def from_dict(raw: dict[str, Any]) -> ExperimentConfig:
    """Validate a nested dict; ConfigError names the first bad key."""
    if not isinstance(raw, dict):
        raise ConfigError(f"a config must be a mapping of keys, got {type(raw).__name__}")
    check_numbers(raw, "", ExperimentConfig)
    try:
        return ExperimentConfig.model_validate(raw)
    except ValidationError as err:
        raise _error_line(err) from None


class _StrictLoader(yaml.SafeLoader):
    """YAML's safe loader, refusing a key given twice in one mapping (YAML keeps the last)."""


def _unique_mapping(loader: _StrictLoader, node: yaml.MappingNode,
                    deep: bool = False) -> dict[Any, Any]:
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}",
                                                    key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node, deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _unique_mapping)


def _yaml_reason(err: yaml.YAMLError) -> str:
    """A YAML error in one line, with the line and column where it was found."""
    if isinstance(err, yaml.MarkedYAMLError) and err.problem_mark is not None:
        mark = err.problem_mark
        return f"line {mark.line + 1}, column {mark.column + 1}: {err.problem}"
    return str(err).splitlines()[0] if str(err) else type(err).__name__


#: The configs that ship with the package (``thermogan list configs``)
SHIPPED = Path(__file__).resolve().parents[1] / "configs"


def shipped() -> dict[str, str]:
    """Each shipped config's name and what it is (the first line of its leading comment)."""
    out = {}
    for path in sorted(SHIPPED.glob("*.yaml")):
        first = next((line for line in path.read_text().splitlines() if line.startswith("#")), "")
        out[path.stem] = first.lstrip("# ").strip()
    return out


def find(path: str | Path) -> Path:
    """``path`` when it exists, else the shipped config of that name (``ring8_betagan`` or
    ``ring8_betagan.yaml``), else ``path`` (whose reading then says it does not exist)."""
    path = Path(path)
    if path.exists() or path.parent != Path("."):
        return path
    named = SHIPPED / (path.name if path.suffix == ".yaml" else f"{path.name}.yaml")
    return named if named.is_file() else path


def read_yaml(path: str | Path) -> dict[str, Any]:
    """The mapping in a YAML file; a missing, empty, binary or malformed file, or one with a key
    given twice, raises ConfigError naming it (and the line and column, when YAML gives them)."""
    path = find(path)
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_StrictLoader)
    except FileNotFoundError:
        near = closest(path.stem, shipped()) if path.parent == Path(".") else None
        hint = f"did you mean {near!r}?" if near else "thermogan list configs names them"
        raise ConfigError(f"config file {path} does not exist, nor a shipped config of that "
                          f"name ({hint})") from None
    except UnicodeDecodeError:
        raise ConfigError(f"config file {path} is not a text (UTF-8) file") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"config file {path}, {_yaml_reason(err)}") from None
    except OSError as err:
        raise ConfigError(f"config file {path} cannot be read: {err.strerror or err}") from None
    if raw is None:
        raise ConfigError(f"config file {path} is empty; give at least the keys that differ from "
                          "the defaults (see configs/ for examples)")
    if not isinstance(raw, dict):
        raise ConfigError(f"config file {path}: expected a mapping of keys at the top level")
    return raw


def load(path: str | Path | None, overrides: list[str] | tuple[str, ...] = ()) -> ExperimentConfig:
    """Read a YAML config (or the defaults when ``path`` is None) and apply overrides.

    Overrides apply to the resolved config (file plus defaults), so ``model.generator.hidden=[64]``
    changes one option of the default generator rather than replacing it.
    """
    if path is None:
        config = from_dict({})
    else:
        try:
            config = from_dict(read_yaml(path))
        except ConfigError as err:
            message = str(err)
            if not message.startswith("config file"):  # a key of the file: say which file
                message = f"config file {path}: {message}"
            raise ConfigError(message) from None
    if not overrides:
        return config
    return from_dict(apply_overrides(config.to_dict(), list(overrides)))


def save(config: ExperimentConfig, path: str | Path) -> None:
    """Write the resolved config as YAML."""
    Path(path).write_text(yaml.safe_dump(config.to_dict(), sort_keys=False))
