"""params.yaml, validated whole before any stage works, and each model's resolved entry.

The schema below is the one description of every knob: its type, range and default. A
misspelt key anywhere (`learning_rate`, `momentun`, `parse.limt`, a layer's `num_filter`) is
one line naming it with a did-you-mean suggestion, and so is a wrong type or range
(`split.seed: x`, `parse.limit: true`): pydantic's strict mode takes no bool for an int and
no string for a number.

Top-level `seed`, `epochs`, `device` and `threads` are defaults that an entry under `models:`
may pin for itself; `resolve(params, name)` merges them into the entry, without its
`reference`, which is what `train@<name>` depends on (see recipes/stages/resolve.py).

    >>> params = config.load()                  # UserError (one line) on any mistake
    >>> config.resolve(params, "lenet")         # {"kind": "net", "params": {...}, ...}
"""

from __future__ import annotations

import difflib
import os
import types
import typing
from pathlib import Path
from typing import Annotated, Any, Literal, Union

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from recipes.errors import UserError

INHERITED = ("seed", "epochs", "device", "threads", "precision")

PosInt = Annotated[int, Field(ge=1)]
NonNegInt = Annotated[int, Field(ge=0)]
Device = Annotated[str, Field(pattern=r"^(auto|cpu|cuda(:\d+)?)$")]
Precision = Literal["auto", "fp32", "bf16"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


# ---- the net's vocabulary: layers (Lasagne's words), pretraining, distortions ----------

Nonlinearity = Literal["sigmoid", "tanh", "relu", "linear", "softmax"]


class Conv(Strict):
    type: Literal["conv"]
    num_filters: PosInt
    filter_size: PosInt
    stride: PosInt = 1
    pad: Union[NonNegInt, Literal["valid", "same", "full"]] = 0
    nonlinearity: Nonlinearity = "relu"


class Pool(Strict):
    type: Literal["pool"]
    pool_size: PosInt = 2
    stride: PosInt | None = None   # default: the pool size
    mode: Literal["max", "avg"] = "max"


class Dense(Strict):
    type: Literal["dense"]
    num_units: PosInt
    nonlinearity: Nonlinearity = "relu"


class Dropout(Strict):
    type: Literal["dropout"]
    p: Annotated[float, Field(ge=0, lt=1)] = 0.5


class Batchnorm(Strict):
    """Batch normalisation of the layer before, then `nonlinearity` (as Lasagne's
    `batch_norm(layer)` moves the layer's nonlinearity after the normalisation)."""
    type: Literal["batchnorm"]
    nonlinearity: Literal["sigmoid", "tanh", "relu", "linear"] = "linear"


class GlobalPool(Strict):
    """The max or mean of each feature map over the whole image: (C, H, W) -> (C,)."""
    type: Literal["global_pool"]
    mode: Literal["avg", "max"] = "avg"


class Residual(Strict):
    """He et al.'s basic block: two same-padded convs (the first at `stride`), each with
    batchnorm, ReLU after the sum with the skip: the input itself, or a 1x1 conv (with
    batchnorm) when the channels or the stride change."""
    type: Literal["residual"]
    num_filters: PosInt
    filter_size: PosInt = 3
    stride: PosInt = 1
    batchnorm: bool = True

    @field_validator("filter_size")
    @classmethod
    def _odd(cls, v):
        if v % 2 == 0:
            raise ValueError(f"must be odd, so that `same` padding keeps the size, got {v}")
        return v


Layer = Annotated[Union[Conv, Pool, Dense, Dropout, Batchnorm, GlobalPool, Residual],
                  Field(discriminator="type")]


class LayerList(Strict):
    layers: Annotated[list[Layer], Field(min_length=1)]


LAYERS = {"conv": Conv, "pool": Pool, "dense": Dense, "dropout": Dropout, "batchnorm": Batchnorm,
          "global_pool": GlobalPool, "residual": Residual}


class Pretrain(Strict):
    """Greedy RBM pretraining (CD-k) of the leading sigmoid dense layers."""
    epochs: PosInt = 5
    lr: Annotated[float, Field(gt=0)] = 0.05
    batch_size: PosInt = 64
    k: PosInt = 1


class Elastic(Strict):
    alpha: Annotated[float, Field(ge=0)] = 34.0
    sigma: Annotated[float, Field(gt=0)] = 4.0


class Affine(Strict):
    degrees: Annotated[float, Field(ge=0, le=180)] = 0.0
    scale: Annotated[list[Annotated[float, Field(gt=0)]], Field(min_length=2, max_length=2)] = [1.0, 1.0]
    shear: Annotated[float, Field(ge=0, lt=90)] = 0.0
    translate: Annotated[float, Field(ge=0)] = 0.0

    @field_validator("scale")
    @classmethod
    def _ordered(cls, v):
        if v[0] > v[1]:
            raise ValueError(f"must be [lo, hi] with lo <= hi, got {v}")
        return v


class Strokes(Strict):
    """Stroke-width variation (recipes.handwriting.strokes): probabilities per image."""
    thicker: Annotated[float, Field(ge=0, le=1)] = 0.3
    thinner: Annotated[float, Field(ge=0, le=1)] = 0.15

    @model_validator(mode="after")
    def _at_most_one(self):
        if self.thicker + self.thinner > 1:
            raise ValueError(f"thicker + thinner must be at most 1, got {self.thicker} + {self.thinner}")
        return self


class Augment(Strict):
    elastic: Elastic | None = None
    affine: Affine | None = None
    strokes: Strokes | None = None   # after the elastic/affine moves


# ---- hyperparameters of each kind: the estimators' signatures, with types and ranges ---

class LogisticParams(Strict):
    C: Annotated[float, Field(gt=0)] = 1.0
    max_iter: PosInt = 100
    seed: NonNegInt = 0


class ForestParams(Strict):
    n_estimators: PosInt = 100
    max_depth: PosInt | None = None
    seed: NonNegInt = 0


class NetParams(Strict):
    layers: Annotated[list[Layer], Field(min_length=1)] = [
        {"type": "dense", "num_units": 10, "nonlinearity": "softmax"}]
    optimizer: Literal["sgd", "adam", "adadelta"] = "sgd"
    lr: Annotated[float, Field(gt=0)] = 0.1
    momentum: Annotated[float, Field(ge=0, lt=1)] = 0.0
    nesterov: bool = False
    weight_decay: Annotated[float, Field(ge=0)] = 0.0
    schedule: Literal["constant", "step", "exponential", "onecycle"] = "constant"
    step_size: PosInt = 10          # epochs per step of `step`
    gamma: Annotated[float, Field(gt=0, le=1)] = 0.1   # `step` factor, or `exponential`'s per epoch
    batch_size: PosInt = 64
    epochs: PosInt = 10
    seed: NonNegInt = 0
    device: Device = "auto"
    threads: NonNegInt = 0          # torch CPU threads while training (0: torch's default)
    precision: Precision = "auto"   # bf16 autocast where the hardware runs it natively
    pretrain: Pretrain | None = None
    augment: Augment | None = None
    label_smoothing: Annotated[float, Field(ge=0, lt=1)] = 0.0   # F.cross_entropy's
    ema: Annotated[float, Field(ge=0, lt=1)] | None = None   # decay per step of the kept weights' average
    tta: Literal[0, 4, 8] = 0       # predictions averaged with those of 4 or 8 one-pixel moves


class CommitteeParams(Strict):
    """Trained models of `models:` combined: `mean` of their probabilities, or `vote`."""
    members: list[str] | None = None
    combine: Literal["mean", "vote"] = "mean"


KIND_PARAMS = {"logistic": LogisticParams, "random_forest": ForestParams, "net": NetParams,
               "committee": CommitteeParams}


# ---- params.yaml ----------------------------------------------------------------------

class Reference(Strict):
    accuracy: Annotated[float, Field(ge=0, le=1)]
    source: str


class EntryKeys(Strict):
    """What every entry may hold beside its hyperparameters: the pipeline's own keys."""
    reference: Reference | None = None
    data: Literal["train_split", "expanded", "photos"] = "train_split"
    train_on_val: bool = False   # the final fit: the validation split joins the training data
    # the seeds of `<name>+<seed>` in train.models; seeds@<name> reports their spread
    seeds: Annotated[list[NonNegInt], Field(min_length=1)] | None = None

    @field_validator("seeds")
    @classmethod
    def _distinct(cls, v):
        if v is not None and len(set(v)) != len(v):
            raise ValueError(f"must be distinct seeds, got {v}")
        return v


# An entry is its kind's hyperparameters plus the pipeline's keys; the inherited ones are
# optional there (None: take the top-level value).
class LogisticEntry(EntryKeys, LogisticParams):
    kind: Literal["logistic"]
    seed: NonNegInt | None = None


class ForestEntry(EntryKeys, ForestParams):
    kind: Literal["random_forest"]
    seed: NonNegInt | None = None


class NetEntry(EntryKeys, NetParams):
    kind: Literal["net"]
    seed: NonNegInt | None = None
    epochs: PosInt | None = None
    device: Device | None = None
    threads: NonNegInt | None = None
    precision: Precision | None = None


class CommitteeEntry(Strict):
    kind: Literal["committee"]
    members: Annotated[list[str], Field(min_length=2)]   # names in train.models
    combine: Literal["mean", "vote"] = "mean"
    reference: Reference | None = None

    @field_validator("members")
    @classmethod
    def _distinct(cls, v):
        if len(set(v)) != len(v):
            raise ValueError(f"must name distinct models, got {v}")
        return v


Entry = Annotated[Union[LogisticEntry, ForestEntry, NetEntry, CommitteeEntry],
                  Field(discriminator="kind")]
ENTRIES = {"logistic": LogisticEntry, "random_forest": ForestEntry, "net": NetEntry,
           "committee": CommitteeEntry}


class Fetch(Strict):
    source: str = "download"   # `download`, or a folder holding the four .gz files
    mirrors: list[Annotated[str, Field(pattern=r"^(https?|file)://\S+$")]] = []


class Parse(Strict):
    limit: NonNegInt = 0


class Split(Strict):
    val_size: PosInt = 10000
    seed: NonNegInt = 42


class Expand(Strict):
    copies: NonNegInt = 0
    seed: NonNegInt = 42
    transforms: list[Literal["elastic", "affine", "shift"]] = []
    elastic: Elastic = Elastic()
    affine: Affine = Affine()


class Photos(Strict):
    """The photos stage: synthetic photos of the training split's digits, cut by the reader."""
    pages: Annotated[int, Field(ge=0, le=100_000)] = 0
    seed: NonNegInt = 100

    @field_validator("seed")
    @classmethod
    def _not_the_benchmarks(cls, v):
        if v in (0, 1):   # recipes.handwriting.synth: the benchmark is seed 0, its dev pages 1
            raise ValueError(f"must not be 0 or 1, the photo benchmark's and its dev pages' seeds, got {v}")
        return v


class Train(Strict):
    models: Annotated[list[str], Field(min_length=1)]   # fitted: entries, or <entry>+<seed>
    committees: list[str] = []   # kind: committee entries, assembled from trained models
    seeds_of: list[str] = []     # entries whose seeds' spread seeds@<entry> reports
    verifiers: list[str] = []    # entries of `verifiers` that verifier@<name> trains


class Verifier(NetParams):
    """The photo reader's part verifier (recipes.handwriting.verify): a net whose three
    outputs say whether a part of a group of ink is a piece, one whole digit or several;
    or, `kind: pair_reader`, its pair reader (recipes.handwriting.pairs): 101 outputs, the
    pairs 00..99 of two overlapping digits and one digit alone."""
    kind: Literal["part_verifier", "pair_reader"] = "part_verifier"
    layers: Annotated[list[Layer], Field(min_length=1)]   # ending in a 3- (101-) unit softmax
    groups: Annotated[int, Field(ge=1, le=1_000_000)] = 12000  # synthetic groups (pairs) of digits
    held_out: Annotated[int, Field(ge=1, le=1_000_000)] = 2000  # more, never trained on: its figures
    seed: NonNegInt = 42       # the groups' and the net's


class Report(Strict):
    tiles: PosInt = 120
    compare: list[Annotated[list[str], Field(min_length=2, max_length=2)]] = []


class Export(Strict):
    onnx: list[str] = []   # models the export stage writes as exports/<name>/model.onnx


class Params(Strict):
    seed: NonNegInt = 42
    epochs: PosInt = 15
    device: Device = "auto"
    threads: NonNegInt = 0
    precision: Precision = "auto"
    fetch: Fetch = Fetch()
    parse: Parse = Parse()
    split: Split = Split()
    expand: Expand = Expand()
    photos: Photos = Photos()
    train: Train
    report: Report = Report()
    export: Export = Export()
    models: dict[str, Entry]
    verifiers: dict[str, Verifier] = {}


def load(path: str | os.PathLike = "params.yaml") -> Params:
    """params.yaml, every key checked; one-line UserError naming the first bad one."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError:
        raise UserError(f"{path}: no such file (run from the project root)") from None
    except yaml.YAMLError as e:
        raise UserError(f"{path}: not valid YAML ({str(e).splitlines()[0]})") from None
    if not isinstance(raw, dict):
        raise UserError(f"{path}: expected a mapping of keys at the top level")
    params = validate(raw, Params, str(path))
    for name, e in params.models.items():
        if SEED_SEP in name:
            raise UserError(f"{path}: models.{name}: `{SEED_SEP}` is kept for <entry>{SEED_SEP}<seed> "
                            "in train.models; rename the entry")
        if getattr(e, "seeds", None) is not None and e.seed is not None:
            raise UserError(f"{path}: models.{name}: seed and seeds: give one (seeds are the "
                            f"seeds of {name}{SEED_SEP}<seed> in train.models)")
    for name in params.train.models:
        _check_fitted(params, name, f"{path}: train.models")
    for name in params.train.committees:
        _check_committee(params, name, f"{path}: train.committees")
    for name in params.train.seeds_of:
        _check_seeds_of(params, name, f"{path}: train.seeds_of")
    for name in params.train.verifiers:
        if name not in params.verifiers:
            raise UserError(f"{path}: train.verifiers: no entry `{name}` under verifiers"
                            f"{_suggest(name, params.verifiers)}")
    return params


# ---- seeds and committees: names in train.* ---------------------------------------------

# `resnet+1` in train.models: entry resnet trained with seed 1. `+` because DVC takes it in
# stage names and `dvc exp run -S 'train.models=[resnet+1]'` unquoted (`~` and `@` fail there)
SEED_SEP = "+"


def split_seed(name: str) -> tuple[str, int | None]:
    """`resnet+1` -> ("resnet", 1); a plain name -> (name, None)."""
    base, sep, seed = name.partition(SEED_SEP)
    if not sep:
        return name, None
    if not seed.isdigit():
        raise UserError(f"train.models: `{name}`: expected <entry>{SEED_SEP}<seed>, a whole number "
                        f"after `{SEED_SEP}`")
    return base, int(seed)


def seed_names(params: Params, name: str) -> list[str]:
    """The per-seed names of a seeded entry, in the order of its `seeds`."""
    return [f"{name}{SEED_SEP}{s}" for s in params.models[name].seeds]


def _no_entry(where: str, name: str, params: Params) -> UserError:
    return UserError(f"{where}: no entry `{name}` under models{_suggest(name, params.models)}")


def _check_fitted(params: Params, name: str, where: str) -> None:
    base, seed = split_seed(name)
    if base not in params.models:
        raise _no_entry(where, name if seed is None else base, params)
    e = params.models[base]
    if e.kind == "committee":
        raise UserError(f"{where}: `{name}` is a committee: list it in train.committees (it is "
                        "assembled from trained models, not trained)")
    seeds = e.seeds
    if seed is None and seeds is not None:
        raise UserError(f"{where}: `{name}` has seeds {seeds}: list {', '.join(seed_names(params, name))} "
                        f"(its spread is seeds@{name}: train.seeds_of)")
    if seed is not None and seeds is None:
        raise UserError(f"{where}: `{name}`: models.{base} has no `seeds:` (add seeds: [{seed}, ...])")
    if seed is not None and seed not in seeds:
        raise UserError(f"{where}: `{name}`: seed {seed} is not in models.{base}.seeds {seeds}")


def _check_committee(params: Params, name: str, where: str) -> None:
    if name not in params.models:
        raise _no_entry(where, name, params)
    e = params.models[name]
    if e.kind != "committee":
        raise UserError(f"{where}: `{name}` is not a committee (kind: {e.kind}): list it in train.models")
    for m in e.members:
        if m not in params.train.models:
            hint = ""
            if m in params.models and getattr(params.models[m], "seeds", None):
                hint = f"; it has seeds: name one, e.g. {seed_names(params, m)[0]}"
            raise UserError(f"models.{name}.members: `{m}` is not in train.models (each member is "
                            f"trained by its own train@ stage){hint}")


def _check_seeds_of(params: Params, name: str, where: str) -> None:
    if name not in params.models:
        raise _no_entry(where, name, params)
    seeds = getattr(params.models[name], "seeds", None)
    if not seeds:
        raise UserError(f"{where}: models.{name} has no `seeds:`")
    missing = [n for n in seed_names(params, name) if n not in params.train.models]
    if missing:
        # the spread is over every declared seed, so that no lucky subset can stand for it
        raise UserError(f"{where}: {name}: {', '.join(missing)} not in train.models (the spread is "
                        f"over all of models.{name}.seeds {seeds})")


def validate(data: Any, schema: type[BaseModel], where: str = "params.yaml"):
    """`schema.model_validate(data)`, its first error as one UserError line."""
    try:
        return schema.model_validate(data)
    except ValidationError as e:
        errors = e.errors()
        # a misspelt key is also a missing one: name the misspelling, it is the cause
        first = next((x for x in errors if x["type"] == "extra_forbidden"), errors[0])
        raise UserError(f"{where}: {describe(first, schema)}") from None


HINTS = {  # what a pattern means, in words
    "mirrors": "must be a URL (http://, https:// or file://)",
    "device": "must be auto, cpu, cuda or cuda:N",
}
TAGS = {"kind": ENTRIES, "type": LAYERS}


def describe(error: dict, schema: type[BaseModel]) -> str:
    """One pydantic error as `models.lenet.layers[2].num_filter: unknown key (did you mean ...)`."""
    where, fields = _walk(schema, error["loc"])
    kind = error["type"]
    if kind == "extra_forbidden":
        return f"{where}: unknown key{_suggest(where.rsplit('.', 1)[-1], fields)}"
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        tag = "kind" if "kind" in str(error.get("ctx", {})) else "type"
        known = list(TAGS[tag])
        got = error["input"].get(tag) if isinstance(error["input"], dict) else None
        what = "layer type" if tag == "type" else "kind"
        if got is None:
            return f"{where}: missing `{tag}` (one of {', '.join(known)})"
        return f"{where}.{tag}: unknown {what} {got!r} (known: {', '.join(known)}){_suggest(str(got), known)}"
    got = "" if kind in ("missing", "value_error") else f", got {error.get('input')!r}"
    if kind == "string_pattern_mismatch":
        key = where.rsplit(".", 1)[-1].split("[")[0]
        return f"{where}: {HINTS.get(key, error['msg'].lower())}{got}"
    return f"{where}: {'missing (required)' if kind == 'missing' else error['msg'].lower()}{got}"


def _walk(schema, loc) -> tuple[str, list[str]]:
    """The dotted path of `loc` (without pydantic's union tags) and the keys allowed at its end."""
    path, node, fields = "", schema, []
    for step in loc:
        if isinstance(node, dict):          # a discriminated union: pydantic puts the tag in loc
            node = node.get(step)
            continue
        if isinstance(node, tuple):         # ("list" | "dict", what each item is)
            container, node = node
            path += f"[{step}]" if container == "list" else f".{step}"
            continue
        path += ("." if path else "") + str(step)
        fields = list(node.model_fields) if _is_model(node) else []
        node = _field_type(node.model_fields[step].annotation) if _is_model(node) and step in node.model_fields else None
    return path, fields


def _is_model(node) -> bool:
    return isinstance(node, type) and issubclass(node, BaseModel)


def _field_type(ann):
    """What the next element of a loc indexes into: a model, a union by tag, a container."""
    origin, args = typing.get_origin(ann), typing.get_args(ann)
    if ann is Entry:
        return ENTRIES
    if ann is Layer:
        return LAYERS
    if origin is Annotated:
        return _field_type(args[0]) if not any(getattr(m, "discriminator", None) for m in args[1:]) \
            else (ENTRIES if args[0] == typing.get_args(Entry)[0] else LAYERS)
    if origin in (Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        return _field_type(inner[0]) if len(inner) == 1 else None
    if origin is list:
        return ("list", _field_type(args[0]))
    if origin is dict:
        return ("dict", _field_type(args[1]))
    return ann if _is_model(ann) else None


SYNONYMS = {"learning_rate": "lr", "n_epochs": "epochs", "num_epochs": "epochs",
            "decay": "weight_decay", "l2": "weight_decay", "batch": "batch_size"}


def _suggest(word: str, choices) -> str:
    choices = list(choices)
    if SYNONYMS.get(word) in choices:
        return f" (did you mean {SYNONYMS[word]}?)"
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f" (did you mean {close[0]}?)" if close else ""


# ---- resolving an entry -----------------------------------------------------------------

def entry(params: Params, name: str):
    """The entry of `name`, or of `<entry>` for `<entry>+<seed>`."""
    base, _ = split_seed(name)
    if base not in params.models:
        raise UserError(f"params.yaml: no model `{base}` under models{_suggest(base, params.models)}")
    return params.models[base]


def resolve(params: Params, name: str) -> dict:
    """What `train@<name>` needs: the kind, the estimator's full keyword arguments (its own
    keys, then the top-level ones it inherits, then the estimator's defaults), and the data.
    The `reference` is left out: editing a citation retrains nothing."""
    e = entry(params, name)
    if e.kind == "committee":
        raise UserError(f"params.yaml: `{name}` is a committee: list it in train.committees")
    own = e.model_dump(exclude={"kind", "reference", "data", "train_on_val", "seeds"})
    seed = split_seed(name)[1]
    if seed is not None:   # `resnet+1`: that seed, whatever the entry or the top level say
        own["seed"] = seed
    hyper = KIND_PARAMS[e.kind].model_fields
    for key in INHERITED:
        if key in hyper and own.get(key) is None:
            own[key] = getattr(params, key)
    if e.train_on_val and e.data != "train_split":
        raise UserError(f"params.yaml: models.{name}.train_on_val: works with data: train_split "
                        f"only (the expand stage expands the training split alone)")
    if e.data == "photos" and params.photos.pages == 0:
        raise UserError(f"params.yaml: models.{name}.data: photos needs photos.pages > 0 "
                        f"(the photos stage writes no photo digits with 0 pages)")
    return {"name": name, "kind": e.kind, "data": e.data, "train_on_val": e.train_on_val,
            "params": {k: v for k, v in own.items() if k in hyper}}
