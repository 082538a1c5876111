"""Typed settings: what a training, pre-training or prediction job reads, as frozen dataclasses.

:mod:`pipeline.config` resolves an experiment, an MNRL stage or the zero-shot reading to a plain dict, and
that dict stays the record: it is the rule's params (a changed setting reruns its jobs), run.json's
``settings`` and what a checkpoint's fingerprint hashes (:func:`pipeline.provenance.fingerprint`). A job's
script turns it into one of the objects below at its top, e.g.
``Experiment.from_dict(snakemake.params.settings)``, and the library reads attributes, not string keys.

* ``from_dict(d)`` needs every key and rejects any other, naming it: a default lives in one place, the
  config's ``defaults`` (and its schema), never in code.
* ``to_dict()`` gives back the dict the object was built from: the same keys in the same order, the same
  values (lists where it holds tuples, dicts where it holds read-only mappings). So run.json and the
  fingerprint written from it are byte for byte those of the plain dict, and a checkpoint written before the
  settings were typed still resumes.

Lists become tuples and dicts read-only mappings, so nothing reachable from a settings object can change;
:func:`dataclasses.replace` makes a changed copy.

A new experiment setting is a key in the config's ``defaults`` (and its schema) and a field of
:class:`Experiment`. It enters every experiment's dict, so every fingerprint changes: existing checkpoints
start over and trained models rerun (``tests/test_settings.py`` records the fingerprints and says so).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import Any, ClassVar, Self


class SettingsError(ValueError):
    """Settings that lack a key or hold an unknown one, stated in one line that names it."""


def _freeze(value: Any) -> Any:
    if isinstance(value, Settings):
        return value
    if isinstance(value, Mapping):
        return MappingProxyType({k: _freeze(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return tuple(_freeze(v) for v in value)
    return value


def _thaw(value: Any) -> Any:
    if isinstance(value, Settings):
        return value.to_dict()
    if isinstance(value, Mapping):
        return {k: _thaw(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [_thaw(v) for v in value]
    return value


@dataclass(frozen=True)
class Settings:
    """Base of the settings classes: :meth:`from_dict`, :meth:`to_dict` and frozen values."""

    #: What the settings describe, for messages ("experiment", "MNRL stage", ...).
    WHAT: ClassVar[str] = "settings"
    #: Keys whose value is itself a settings object (a nested dict in the plain form).
    NESTED: ClassVar[Mapping[str, type[Settings]]] = {}
    #: Keys added after runs existed: a plain dict may leave them out (the field's default applies), and
    #: :meth:`to_dict` then leaves them out too, so the settings, fingerprints and Snakemake params of every
    #: run made before they existed stay exactly as they were (no rerun of finished paper-scale runs).
    OPTIONAL: ClassVar[frozenset[str]] = frozenset()

    # the plain dict's key order, so that to_dict() gives back exactly that dict (json.dumps keeps order)
    _keys: tuple[str, ...] = field(default=(), kw_only=True, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name in self.keys():
            value = getattr(self, name)
            if name in self.NESTED and not isinstance(value, Settings):
                value = self.NESTED[name].from_dict(value, f"{self._where()} {name!r}")
            object.__setattr__(self, name, _freeze(value))

    @classmethod
    def keys(cls) -> tuple[str, ...]:
        """The keys of the plain dict, in declaration order."""
        return tuple(f.name for f in fields(cls) if f.name != "_keys")

    @classmethod
    def from_dict(cls, d: Mapping, where: str | None = None) -> Self:
        """The settings of the plain dict ``d``, which must hold every key of :meth:`keys` and no other."""
        if not isinstance(d, Mapping):
            raise SettingsError(f"{where or cls.WHAT} settings: expected a mapping, not {type(d).__name__}")
        where = where or cls._name(d)
        known = cls.keys()
        problems = []
        for key in d:
            if key not in known:
                close = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                problems.append(f"unknown key {key!r}{hint}")
        missing = [k for k in known if k not in d and k not in cls.OPTIONAL]
        if missing:
            problems.append(f"missing key{'s' if len(missing) > 1 else ''} {', '.join(map(repr, missing))}")
        if problems:
            raise SettingsError(
                f"{where}: {'; '.join(problems)} (every key comes from the config, whose defaults hold them)"
            )
        return cls(**d, _keys=tuple(d))

    @classmethod
    def _name(cls, d: Mapping) -> str:
        name = d.get("name")
        return f"{cls.WHAT} {name!r}" if isinstance(name, str) else f"{cls.WHAT} settings"

    def _where(self) -> str:
        name = getattr(self, "name", None)
        return f"{self.WHAT} {name!r}" if isinstance(name, str) else f"{self.WHAT} settings"

    def to_dict(self) -> dict:
        """The plain dict these settings were built from (keys in its order; declaration order when the
        object was made by its constructor)."""
        return {k: _thaw(getattr(self, k)) for k in self._keys or self.keys()}


@dataclass(frozen=True)
class Lora(Settings):
    """LoRA / DoRA / rsLoRA adapters (:mod:`pipeline.model.tuning`)."""

    WHAT: ClassVar[str] = "LoRA"

    rank: int
    alpha: int | float
    dropout: float
    targets: str | tuple[str, ...]  # a named set ("all", "all-dense") or module name suffixes


@dataclass(frozen=True)
class Heads(Settings):
    """What sits on the encoder (:class:`pipeline.model.heads.MultitaskModel`): the sentence pooling, how a
    pair is combined, and one head per task. Not a block of the config: :attr:`Experiment.heads`."""

    WHAT: ClassVar[str] = "heads"
    OPTIONAL: ClassVar[frozenset[str]] = frozenset({"pair_features"})

    tasks: tuple[str, ...]
    pooling: str  # cls | pooler | mean
    pair_mode: str  # sum | concat | cross
    para_outputs: int  # 1 (BCE) | 2 (cross-entropy)
    sts_head: str  # linear | cosine
    shared_layer: bool
    head_layers: int
    dropout: float
    # what a Siamese pair's heads read besides the two embeddings (``plain``: nothing, as in the papers;
    # ``interaction``: also u*v and |u-v|, a scale's ``pair_features``)
    pair_features: str = field(default="plain", kw_only=True)

    @classmethod
    def among(cls, settings: Mapping, where: str | None = None) -> Heads:
        """The head settings among an experiment's plain settings (an optional key they leave out stays out
        of the heads' plain dict too, so a model's saved heads record is as before the key existed)."""
        return cls.from_dict({k: settings[k] for k in cls.keys() if k in settings}, where)


@dataclass(frozen=True)
class Experiment(Settings):
    """One trained model (:func:`pipeline.config.resolve_experiment`): ``defaults`` + preset + its own keys
    at the active scale, plus the scale's encoder, training subsets, and the names."""

    WHAT: ClassVar[str] = "experiment"
    NESTED: ClassVar[Mapping[str, type[Settings]]] = {"lora": Lora}
    OPTIONAL: ClassVar[frozenset[str]] = frozenset({"head_lr", "pair_features", "sts_bias"})

    tasks: tuple[str, ...]
    pretrain: str | None  # the MNRL stage the encoder comes from
    tuning: str  # full | last-layer | lora | dora | rslora
    lora: Lora
    pooling: str
    pair_mode: str
    para_outputs: int
    train_score: bool  # also score the training set after every epoch
    sts_head: str
    shared_layer: bool
    head_layers: int
    dropout: float
    sampling: str  # round-robin | round-robin-cycle | sqrt | annealed
    steps_per_epoch: int | None
    upweight: Mapping[str, float]
    lr: float
    weight_decay: float
    schedule: str  # constant | linear
    batch_size: int
    bucket_batches: int
    eval_batch_size: int
    epochs: int
    max_length: int
    seed: int
    precision: str  # auto | bf16 | fp16 | fp32
    encoder: str
    train_subset: Mapping[str, int | None]  # rows of each task's training split (None: all)
    scale_name: str
    name: str
    # the heads' (and shared layer's) learning rate is at least this (a scale's ``head_lr``; None: ``lr``)
    head_lr: float | None = field(default=None, kw_only=True)
    # what a Siamese pair's heads read besides the two embeddings (a scale's ``pair_features``; see Heads)
    pair_features: str = field(default="plain", kw_only=True)
    # ``label_mean``: the STS head's output bias starts at the training labels' mean (a scale's ``sts_bias``;
    # None: torch's initialisation, as in the papers)
    sts_bias: str | None = field(default=None, kw_only=True)

    @property
    def heads(self) -> Heads:
        """The head settings among these (:meth:`Heads.among`)."""
        return Heads.among(self.to_dict(), f"{self._where()} heads")


@dataclass(frozen=True)
class MnrlStage(Settings):
    """An MNRL pre-training stage (:func:`pipeline.config.resolve_pretrain`)."""

    WHAT: ClassVar[str] = "MNRL stage"

    sources: tuple[str, ...]  # para, and sts for the "adddata" stages
    sts_min: float  # STS pairs with at least this similarity are positives
    epochs: int
    scale: float  # MNRL's cosine scale
    batch_size: int
    lr: float
    pooling: str
    seed: int
    encoder: str
    max_length: int
    pair_subset: int | None  # a random subset of the positive pairs (None: all)
    precision: str
    scale_name: str
    name: str


@dataclass(frozen=True)
class ZeroShot(Settings):
    """The zero-shot row (:func:`pipeline.config.zero_shot_settings`): the encoder before fine-tuning, read
    through the cosine of two sentence embeddings."""

    WHAT: ClassVar[str] = "zero-shot"

    encoder: str
    pooling: str
    max_length: int
    eval_batch_size: int
    precision: str
    tasks: tuple[str, ...]
    train_subset: Mapping[str, int | None]
    sts: str  # how cosines become STS scores (words, recorded)
    para: str  # how cosines become paraphrase labels (words, recorded)
    scale_name: str


@dataclass(frozen=True)
class RunControl(Settings):
    """How a training or MNRL run checkpoints, reports and executes (config.yaml's top-level keys of these
    names). Never part of the experiment's settings or fingerprint: it does not change what is computed
    (``compile`` may change float rounding and dropout masks, not the computation)."""

    WHAT: ClassVar[str] = "run control"

    checkpoint_every_steps: int  # besides every epoch end (0: epoch ends only)
    checkpoint_every_minutes: float  # 0: never
    log_every_steps: int  # a progress line every this many steps (0: epoch ends only)
    resume_other_code: bool  # resume a checkpoint written by other library code
    compile: bool | str  # torch.compile the encoder: false | true | a mode or backend (training/compiled.py)

    @classmethod
    def from_config(cls, config: Mapping) -> RunControl:
        """The run control that config.yaml sets (its keys of these names; any other key is not ours)."""
        return cls.from_dict({k: config[k] for k in cls.keys() if k in config}, "config.yaml's run control")
