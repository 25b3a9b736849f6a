"""Experiment configuration: dataclasses, experiment files and `--set` overrides.

An experiment file defines `get_config() -> Experiment`. Overrides `a.b=value`
are parsed with `ast.literal_eval` and type-checked against the field; an
unknown key names the nearest valid one.
"""
from __future__ import annotations

import ast
import dataclasses
import difflib
import functools
import importlib
import importlib.util
import json
import math
import sys
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Data:
    """Where audio comes from and how it is cut into training examples.

    `source`: "default" (the embedded synthesized drone), a file, a folder, a
    glob, or "tfds:NAME" (read from `tfds_data_dir`, never downloaded).
    Frames of `frame_length` samples every `frame_hop` samples (None: hop =
    length); an example is `sequence_length + 1` frames; a new example starts
    every `window_shift` samples.
    """

    source: str = "default"
    sample_rate: int = 16000
    frame_length: int = 4000
    frame_hop: int | None = None
    sequence_length: int = 50
    window_shift: int = 1000
    batch_size: int = 16
    split: tuple[float, float, float] = (0.8, 0.1, 0.1)
    normalization: str = "standard"  # "standard" (mean/std) or "minmax"
    split_seed: int = 0  # shuffles files before a by-file split
    on_bad_file: str = "fail"  # "fail" or "skip" (a bad file in a folder)
    default_minutes: float = 10.0  # length of the embedded default track
    default_seed: int = 0  # seed of the embedded default track
    tfds_data_dir: str | None = None
    tfds_split: str = "train"
    tfds_audio_key: str = "audio"
    cache_dir: str | None = None  # where the default track is cached; None: ~/.cache/advaudio


@dataclass
class Model:
    """FrameGRU: `layers` recurrent layers of `units`, a Dense head back to the frame."""

    cell: str = "gru"  # "gru" or "lstm"
    layers: int = 2
    units: int = 256
    skip_connections: bool = False
    gate_bias: float = 0.0  # initial bias of the update (GRU) / forget (LSTM) gate
    encoder: Any = "none"  # what the recurrent stack reads: none (the raw frame), stft_conv, a registered name
    encoder_params: dict = field(default_factory=dict)  # kwargs of the encoder's builder (advaudio/encoders.py)
    noise_dim: int = 0  # fresh N(0, 1) values per frame concatenated to the input; 0: deterministic
    layer_noise: bool = False  # fresh N(0, 1) per unit added to every layer's output, times a learned scale (StyleGAN)

    @property
    def stochastic(self) -> bool:
        """Whether the generator takes noise (input noise or layer noise; FrameGRU.noise_width > 0)."""
        return self.noise_dim > 0 or self.layer_noise


@dataclass
class Adversarial:
    """The denoising GAN's discriminator side (used by objective "gan_denoise")."""

    discriminator: Any = "waveform"  # registry name, or a callable returning a keras.Model
    discriminator_params: dict = field(default_factory=dict)
    loss: str = "least_squares"  # least_squares, hinge, non_saturating, wasserstein_gp
    gradient_penalty: float = 10.0  # weight of the WGAN-GP penalty
    input: str = "stitched"  # "frames" (single frames) or "stitched" (several stitched frames)
    stitched_frames: int = 2  # frames per stitched discriminator example (one seam each)
    real_share: float = 1.0  # relative weights of the negative sources below
    fake_share: float = 1.0
    noisy_share: float = 0.5  # real frames + noise at a random SNR
    noise_share: float = 0.5  # pure noise matched in loudness
    snr_db: tuple[float, float] = (0.0, 20.0)
    d_steps: int = 1  # discriminator steps per generator step
    d_start_step: int = 300  # generator-only warm-up steps before D is switched on
    d_learning_rate: float = 2e-4
    d_beta_1: float = 0.5
    d_beta_2: float = 0.9
    d_clipnorm: float = 10.0
    # D examples per source per step (per replica), drawn at random from the batch's frames or
    # runs of stitched frames; None: all of them. Bounds D's cost (benchmarks/objectives.py).
    d_examples: int | None = 16


@dataclass
class Objective:
    """What the generator is trained to minimise.

    `loss_weights` maps loss-term names (`rec/mse`, `rec/l1`, `spec/sc`,
    `spec/logmag`, `spec/linmag`, `spec/mel`, `adv/gen`, `adv/feat`) to
    weights; the total is the weighted sum; removing a key removes the term.
    """

    name: Any = "mse"  # registry name, or a callable building the trainer
    loss_weights: dict = field(default_factory=lambda: {"rec/mse": 1.0})
    stft: dict = field(default_factory=dict)  # MultiResolutionSTFTLoss kwargs but *_weight (spec/* weights); segment_frames
    regime: str = "teacher_forcing"  # teacher_forcing, scheduled_sampling, free_running
    sampling_probability: float = 0.25  # final p of scheduled sampling
    sampling_schedule: str = "linear"  # constant, linear, inverse_sigmoid
    sampling_ramp_steps: int = 2000  # steps over which p rises to its final value
    free_run_prefix: int = 10  # true frames before a free-running rollout
    free_run_steps: int = 8  # frames unrolled on the model's own predictions
    adversarial: Adversarial = field(default_factory=Adversarial)
    params: dict = field(default_factory=dict)  # extra kwargs for custom objectives


@dataclass
class GenerationCheck:
    """Every epoch, `count` sequences of `seconds` generated free-running from `seed_split` seeds and scored
    against that split (advaudio/evaluation/generation_check.py); logged as gen/*. count=0 turns it off."""

    seconds: float = 4.0
    count: int = 2
    seed_split: str = "valid"  # valid or test


@dataclass
class Train:
    """How long and how to train; the defaults train the default model on the
    default data in about ten minutes on 2 CPU cores (experiments compare step for step)."""

    epochs: int = 8
    steps_per_epoch: int | None = 300  # None: one pass over the shuffled examples
    validation_steps: int | None = 20  # None: the whole validation split
    learning_rate: float = 1e-3
    beta_1: float = 0.9
    beta_2: float = 0.999
    clipnorm: float | None = 1.0  # global-norm gradient clipping; None: off
    seed: int = 0
    distribute: str = "default"  # default, mirrored, multi_worker
    cpu_replicas: int = 2  # logical CPU devices for "mirrored" when there is no GPU
    keep_checkpoints: int = 3
    jit_compile: bool = False  # XLA slows GRU training on CPU
    generation_check: GenerationCheck = field(default_factory=GenerationCheck)
    best_by: str = "val_loss"  # val_loss or a gen/* metric or gen/composite (generation_check.DIRECTIONS)


@dataclass
class Generate:
    seconds: float = 30.0
    count: int = 2  # sequences written at the end of a run
    stitch: str = "auto"  # auto, concat, overlap_add, crossfade
    crossfade_length: int | None = None  # None: 256 samples, or less where the frames allow less
    window: str = "hann"
    seed_frames: int = 10
    seed_from: str = "valid"  # valid, test, or an audio file
    dither: float = 0.0  # std of noise added to the fed-back frame
    temperature: float = 1.0  # scale of the model's noise (model.noise_dim > 0 or layer_noise); 0: mean behaviour
    feedback: str = "stitched"  # stitched or raw (when frames overlap)
    format: str = "wav"  # wav or flac
    subtype: str = "PCM_16"  # PCM_16, PCM_24, FLOAT
    loudness: str = "none"  # none, peak, rms
    sample_seed: int = 0
    revision: Any = "none"  # none, bidirectional, a registered name or a callable (advaudio/revision.py)
    revision_params: dict = field(default_factory=dict)  # kwargs of the revision network's builder
    revision_window: int = 16  # frames the revision pass sees at once
    revision_hop: int = 8  # frames between the starts of consecutive windows


@dataclass
class Revise:
    """Training of the revision pass (advaudio/revision.py) when generate.revision is not "none":
    after the generator in the same run, or over the finished run `from_run` (experiments/revise.py)."""

    from_run: str | None = None  # a finished run folder whose generator is revised (its data and model are used)
    checkpoint: str = "best"  # which generator checkpoint of from_run: best, last or an epoch number
    loss_weights: dict = field(default_factory=lambda: {"rec/mse": 1.0, "spec/sc": 1.0, "spec/logmag": 1.0})
    epochs: int = 4
    steps_per_epoch: int = 200
    learning_rate: float = 1e-3
    rollouts: int = 256  # training windows of the generator's own rollouts (computed once)
    validation_windows: int = 32  # validation windows of each kind (rollouts, degraded real audio)
    rollout_share: float = 0.5  # share of training windows that are rollouts; the rest is degraded real audio
    prefix_frames: int = 10  # true frames each rollout starts from
    noise_std: float = 0.05  # Gaussian noise added to real audio (normalised units)
    clicks_per_frame: float = 0.5  # expected single-sample clicks per frame added to real audio
    click_amplitude: float = 1.0  # size of a click (normalised units; the sign is random)
    # Which epoch's pass generation uses: "val_loss" (the lowest reconstruction validation loss) or "last". With
    # adversarial terms only epochs after D's first step count (as for the GAN's generator).
    best_by: str = "val_loss"


@dataclass
class Experiment:
    name: str = "experiment"
    data: Data = field(default_factory=Data)
    model: Model = field(default_factory=Model)
    objective: Objective = field(default_factory=Objective)
    train: Train = field(default_factory=Train)
    generate: Generate = field(default_factory=Generate)
    revise: Revise = field(default_factory=Revise)


class ConfigError(ValueError):
    """A bad experiment file or override; the message says how to fix it."""


def load_experiment(path: str | Path) -> tuple[Experiment, str]:
    """Imports an experiment file and calls its `get_config()`.

    Returns:
        (config, source text of the file).
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"experiment file {path} does not exist; see experiments/ for examples")
    source = path.read_text()
    module_name = f"advaudio_experiment_{path.stem}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    if not hasattr(module, "get_config"):
        raise ConfigError(f"{path} defines no get_config(); it must return an advaudio.config.Experiment")
    cfg = module.get_config()
    if not isinstance(cfg, Experiment):
        raise ConfigError(f"{path}: get_config() returned {type(cfg).__name__}, not an Experiment")
    if cfg.name == Experiment.name:
        cfg.name = path.stem
    return cfg, source


def _all_keys(obj: Any, prefix: str = "") -> list[str]:
    keys = []
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        key = prefix + f.name
        keys.append(key)
        if dataclasses.is_dataclass(value):
            keys.extend(_all_keys(value, key + "."))
    return keys


@functools.lru_cache(maxsize=None)
def _type_hints(cls: type) -> dict:
    return typing.get_type_hints(cls)


def _field_type(owner: Any, name: str) -> Any:
    return _type_hints(type(owner))[name]


def _describe(expected: Any) -> str:
    """What a field takes, in words ("True or False", "an integer or None")."""
    words = {bool: "True or False", int: "an integer", float: "a number", str: "a string", dict: "a dict",
             type(None): "None", Any: "any value"}
    if typing.get_origin(expected) in (typing.Union, types.UnionType):
        return " or ".join(_describe(option) for option in typing.get_args(expected))
    if typing.get_origin(expected) is tuple:
        return f"a tuple of {len(typing.get_args(expected))} values"
    return words.get(expected, getattr(expected, "__name__", str(expected)))


def _check_type(value: Any, expected: Any, key: str) -> Any:
    """Returns `value` converted to `expected` where lossless, else raises ConfigError."""
    origin = typing.get_origin(expected)
    if expected is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        errors = []
        for option in typing.get_args(expected):
            try:
                return _check_type(value, option, key)
            except ConfigError as err:
                errors.append(str(err))
        raise ConfigError(f"{key}: {value!r} is not {_describe(expected)}")
    if expected is type(None):
        if value is None:
            return None
        raise ConfigError(f"{key}: expected None, got {value!r}")
    if origin is tuple:
        if not isinstance(value, (tuple, list)):
            raise ConfigError(f"{key}: expected a tuple like (0.8, 0.1, 0.1), got {value!r}")
        args = typing.get_args(expected)
        if args and len(args) != len(value) and not (len(args) == 2 and args[1] is Ellipsis):
            raise ConfigError(f"{key}: expected {len(args)} values, got {len(value)}")
        item_types = [args[0]] * len(value) if len(args) == 2 and args[1] is Ellipsis else list(args)
        return tuple(_check_type(v, t, key) for v, t in zip(value, item_types)) if args else tuple(value)
    if origin is dict or expected is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a dict like {{'rec/mse': 1.0}}, got {value!r}")
        return value
    if expected is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{key}: expected a number, got {value!r}")
        return float(value)
    if expected is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key}: expected an integer, got {value!r}")
        return value
    if expected is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key}: expected True or False, got {value!r}")
        return value
    if expected is str:
        if not isinstance(value, str):
            raise ConfigError(f"{key}: expected a string, got {value!r}")
        return value
    if isinstance(expected, type) and not isinstance(value, expected):
        raise ConfigError(f"{key}: expected {expected.__name__}, got {value!r}")
    return value


def _accepts_str(expected: Any) -> bool:
    if expected in (str, Any):
        return True
    return str in typing.get_args(expected)


def apply_override(cfg: Experiment, assignment: str) -> None:
    """Applies one `a.b=value` override in place.

    The value is a Python literal; for a field that accepts strings, a bare
    word that is not a literal is taken as the string itself.
    """
    if "=" not in assignment:
        raise ConfigError(f"--set {assignment!r}: expected KEY=VALUE, e.g. --set train.epochs=3")
    key, raw = assignment.split("=", 1)
    key = key.strip()
    parts = key.split(".")
    owner: Any = cfg
    for i, part in enumerate(parts):
        valid = {f.name for f in dataclasses.fields(owner)} if dataclasses.is_dataclass(owner) else set()
        if part not in valid:
            near = difflib.get_close_matches(key, _all_keys(cfg), n=1, cutoff=0.4)
            hint = f" Did you mean {near[0]!r}?" if near else ""
            raise ConfigError(f"unknown config key {key!r}.{hint}")
        if i < len(parts) - 1:
            owner = getattr(owner, part)
    name = parts[-1]
    expected = _field_type(owner, name)
    if dataclasses.is_dataclass(getattr(owner, name)):
        raise ConfigError(f"{key} is a section; set one of its keys, e.g. {key}.{dataclasses.fields(getattr(owner, name))[0].name}=...")
    try:
        value = ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        if not _accepts_str(expected):
            raise ConfigError(f"{key}: {raw!r} is not a Python literal (expected {_describe(expected)})") from None
        value = raw
    if expected is str and not isinstance(value, str):
        value = raw  # a field that only takes strings: --set data.source=123 is the folder "123"
    setattr(owner, name, _check_type(value, expected, key))


def apply_overrides(cfg: Experiment, assignments: list[str]) -> Experiment:
    for assignment in assignments or []:
        apply_override(cfg, assignment)
    return cfg


def to_dict(cfg: Any) -> Any:
    """A JSON-ready view of a config; callables become their qualified names."""
    if dataclasses.is_dataclass(cfg):
        return {f.name: to_dict(getattr(cfg, f.name)) for f in dataclasses.fields(cfg)}
    if isinstance(cfg, dict):
        return {k: to_dict(v) for k, v in cfg.items()}
    if isinstance(cfg, (list, tuple)):
        return [to_dict(v) for v in cfg]
    if callable(cfg):
        return f"<callable {getattr(cfg, '__module__', '?')}.{getattr(cfg, '__qualname__', repr(cfg))}>"
    return cfg


def with_defaults(data: dict, cls: type = Experiment) -> dict:
    """A run's config.json (`to_dict` output) with every key it lacks set to today's default, section by
    section (an older run folder predates keys added since, e.g. model.layer_noise). User mappings such
    as objective.loss_weights are taken as they are, never merged with the defaults' mapping."""
    hints = typing.get_type_hints(cls)
    out = dict(data)
    for f in dataclasses.fields(cls):
        hint = hints[f.name]
        if f.name not in out:
            default = f.default_factory() if f.default is dataclasses.MISSING else f.default
            out[f.name] = to_dict(default)
        elif dataclasses.is_dataclass(hint) and isinstance(out[f.name], dict):
            out[f.name] = with_defaults(out[f.name], hint)
    return out


def from_dict(data: dict, cls: type = Experiment) -> Any:
    """Rebuilds a config from `to_dict` output (as saved in a run's config.json)."""
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name not in data:
            continue
        value = data[f.name]
        hint = hints[f.name]
        if dataclasses.is_dataclass(hint):
            value = from_dict(value, hint)
        elif typing.get_origin(hint) is tuple or (
            typing.get_origin(hint) in (typing.Union, types.UnionType)
            and any(typing.get_origin(a) is tuple for a in typing.get_args(hint))
        ):
            value = tuple(value) if isinstance(value, list) else value
        kwargs[f.name] = value
    return cls(**kwargs)


def save_json(cfg: Experiment, path: str | Path) -> None:
    Path(path).write_text(json.dumps(to_dict(cfg), indent=2, sort_keys=False) + "\n")


def load_json(path: str | Path) -> Experiment:
    return from_dict(json.loads(Path(path).read_text()))


SMOKE_FRAME_LENGTH = 400  # samples per frame (per hop, where frames overlap) of a --smoke run


def smoke(cfg: Experiment) -> Experiment:
    """Shrinks any experiment so that it runs end to end in seconds."""
    cfg.data.default_minutes = min(cfg.data.default_minutes, 0.5)
    if cfg.data.frame_hop is not None and cfg.data.frame_hop < cfg.data.frame_length:
        # Overlapping frames keep their overlap and a hop of at most SMOKE_FRAME_LENGTH samples, so that a
        # rollout's stitched frames still outlast the STFT resolutions (see free_run_steps below).
        overlap = cfg.data.frame_length / cfg.data.frame_hop
        cfg.data.frame_hop = min(cfg.data.frame_hop, SMOKE_FRAME_LENGTH)
        cfg.data.frame_length = min(cfg.data.frame_length, max(cfg.data.frame_hop + 1, round(cfg.data.frame_hop * overlap)))
    else:
        cfg.data.frame_length = min(cfg.data.frame_length, SMOKE_FRAME_LENGTH)
        if cfg.data.frame_hop is not None:
            cfg.data.frame_hop = max(1, min(cfg.data.frame_hop, cfg.data.frame_length // 2))
    cfg.data.sequence_length = min(cfg.data.sequence_length, 8)
    cfg.data.window_shift = max(cfg.data.window_shift, cfg.data.frame_length)
    cfg.data.batch_size = min(cfg.data.batch_size, 4)
    cfg.model.units = min(cfg.model.units, 16)
    cfg.model.layers = min(cfg.model.layers, 2)
    cfg.train.epochs = min(cfg.train.epochs, 2)
    cfg.train.steps_per_epoch = 2
    cfg.train.validation_steps = 1
    # The longest rollout that fits the shrunken sequence: spectral terms on a free-running rollout need
    # it to outlast the STFT resolutions (7 frames of 400 stitched: 2200 samples >= fft_size 2048).
    cfg.objective.free_run_prefix = 1
    cfg.objective.free_run_steps = min(cfg.objective.free_run_steps, cfg.data.sequence_length - 1)
    cfg.objective.sampling_ramp_steps = min(cfg.objective.sampling_ramp_steps, 2)
    cfg.objective.adversarial.d_start_step = min(cfg.objective.adversarial.d_start_step, 1)
    cfg.objective.adversarial.stitched_frames = min(cfg.objective.adversarial.stitched_frames, 2)
    # A run of the shrunken frames would be shorter than the STFT resolutions: smoke runs measure
    # the whole (short) sequences; the unit tests cover segments.
    if cfg.objective.stft.get("segment_frames") is not None:
        cfg.objective.stft = {**cfg.objective.stft, "segment_frames": None}
    cfg.generate.seconds = min(cfg.generate.seconds, 0.5)
    cfg.train.generation_check.seconds = min(cfg.train.generation_check.seconds, 1.0)
    cfg.generate.seed_frames = min(cfg.generate.seed_frames, 2)
    cfg.generate.count = 1
    if cfg.generate.crossfade_length is not None:  # None: derived from the shrunken frame
        cfg.generate.crossfade_length = min(cfg.generate.crossfade_length, cfg.data.frame_length // 4)
    return cfg


def frame_hop(data: Data) -> int:
    """The effective hop between frames in samples."""
    return data.frame_length if data.frame_hop is None else data.frame_hop


def example_span(data: Data) -> int:
    """Samples covered by one example of `sequence_length + 1` frames."""
    return (data.sequence_length) * frame_hop(data) + data.frame_length


# --------------------------------------------------------------------------- validation
#
# `validate` is the one entry point: `python -m advaudio.run` calls it before any data is read and before a
# run folder exists. It checks every field's type, each section's ranges and choices, and looks every name
# up in its registry; the chosen objective adds its own checks (the `check` registered with its factory in
# registry.OBJECTIVES) and feature modules theirs (registry.CONFIG_CHECKS). Each problem is one line naming
# the key, the value and the valid choices or the nearest one. Options that are not in use are not checked
# (a crossfade length when nothing crossfades, the GAN's section under another objective).
#
# The registry look-ups import the modules that register the built-in entries, and those import
# TensorFlow: the built-in objectives, loss terms and discriminators are registered next to the Keras code
# they build, and a second, TensorFlow-free list of their names would drift. `run` imports TensorFlow right
# after anyway, so a valid config pays nothing extra; a bad one is reported after ~4 s of imports instead
# of after reading the data.

SEED_KEYS = ("data.split_seed", "data.default_seed", "train.seed", "generate.sample_seed")
SEED_FROM_SPLITS = ("valid", "test")


def _leaf_fields(obj: Any, prefix: str = ""):
    """(owner, field name, key) for every non-section field."""
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if dataclasses.is_dataclass(value):
            yield from _leaf_fields(value, f"{prefix}{f.name}.")
        else:
            yield obj, f.name, f"{prefix}{f.name}"


def _get(cfg: Experiment, key: str) -> Any:
    value = cfg
    for part in key.split("."):
        value = getattr(value, part)
    return value


def _type_problems(cfg: Experiment) -> list[str]:
    """Every field against its annotation (experiment files are not parsed by `--set`)."""
    problems = []
    for owner, name, key in _leaf_fields(cfg):
        try:
            setattr(owner, name, _check_type(getattr(owner, name), _field_type(owner, name), key))
        except ConfigError as err:
            problems.append(str(err))
    return problems


def _choice(key: str, value: Any, choices) -> str | None:
    """A problem line when `value` is not one of `choices`, with the nearest one."""
    choices = [str(c) for c in choices]
    if value in choices:
        return None
    near = difflib.get_close_matches(str(value), choices, n=1)
    hint = f" Did you mean {near[0]!r}?" if near else ""
    return f"{key}={value!r} is not one of {', '.join(choices)}.{hint}"


def _at_least(cfg: Experiment, keys, low, *, allow_none: bool = False, strict: bool = False) -> list[str]:
    problems = []
    for key in keys:
        value = _get(cfg, key)
        if value is None and allow_none:
            continue
        if value is None or (value <= low if strict else value < low) or value != value:
            bound = f"> {low}" if strict else f">= {low}"
            problems.append(f"{key}={value!r} must be {bound}" + (" (or None)" if allow_none else ""))
    return problems


def _data_problems(cfg: Experiment) -> list[str]:
    from advaudio.data.errors import DataError
    from advaudio.data.sources import BAD_FILE_POLICIES, source_kind
    from advaudio.data.stats import KINDS

    data = cfg.data
    problems = _at_least(cfg, [f"data.{k}" for k in ("sample_rate", "frame_length", "sequence_length",
                                                     "window_shift", "batch_size")], 1)
    problems += _at_least(cfg, ["data.default_minutes"], 0, strict=True)
    if data.frame_hop is not None and data.frame_length >= 1 and not 1 <= data.frame_hop <= data.frame_length:
        problems.append(
            f"data.frame_hop={data.frame_hop} must be between 1 and data.frame_length={data.frame_length} (or None)"
        )
    if len(data.split) != 3 or min(data.split) < 0 or abs(sum(data.split) - 1.0) > 1e-6:
        problems.append(f"data.split={data.split} must be three non-negative shares summing to 1")
    problems += [p for p in (_choice("data.normalization", data.normalization, KINDS),
                             _choice("data.on_bad_file", data.on_bad_file, BAD_FILE_POLICIES)) if p]
    try:
        kind = source_kind(data.source)
    except DataError as err:
        return problems + [str(err)]
    if kind == "tfds":  # the tfds_* keys are used only here
        if data.tfds_data_dir is not None and not Path(data.tfds_data_dir).is_dir():
            problems.append(f"data.tfds_data_dir={data.tfds_data_dir!r} is not a folder (TFDS datasets are read "
                            "from it, never downloaded)")
        for key in ("tfds_split", "tfds_audio_key"):
            if not getattr(data, key):
                problems.append(f"data.{key}={getattr(data, key)!r} must name a TFDS split / feature")
    if kind == "default" and data.cache_dir is not None and Path(data.cache_dir).exists() \
            and not Path(data.cache_dir).is_dir():
        problems.append(f"data.cache_dir={data.cache_dir!r} is a file; give a folder (or None: ~/.cache/advaudio)")
    return problems


def _model_problems(cfg: Experiment) -> list[str]:
    from advaudio.models import CELLS

    problems = [p for p in (_choice("model.cell", cfg.model.cell, sorted(CELLS)),) if p]
    problems += _at_least(cfg, ["model.layers", "model.units"], 1)
    problems += _at_least(cfg, ["model.noise_dim"], 0)
    if not math.isfinite(cfg.model.gate_bias):
        problems.append(f"model.gate_bias={cfg.model.gate_bias!r} must be a finite number")
    return problems


def _train_problems(cfg: Experiment) -> list[str]:
    from advaudio.registry import STRATEGIES

    train = cfg.train
    problems = _at_least(cfg, ["train.epochs", "train.keep_checkpoints"], 1)
    problems += _at_least(cfg, ["train.steps_per_epoch", "train.validation_steps"], 1, allow_none=True)
    problems += _at_least(cfg, ["train.learning_rate"], 0, strict=True)
    problems += _at_least(cfg, ["train.clipnorm"], 0, strict=True, allow_none=True)
    for key in ("train.beta_1", "train.beta_2"):
        if not 0.0 <= _get(cfg, key) < 1.0:
            problems.append(f"{key}={_get(cfg, key)!r} must be in [0, 1)")
    if train.distribute not in STRATEGIES:
        problems.append(f"train.distribute={train.distribute!r}: {STRATEGIES.unknown_message(train.distribute)}")
    elif train.distribute == "mirrored":
        problems += _at_least(cfg, ["train.cpu_replicas"], 1)
    return problems


def _generate_problems(cfg: Experiment) -> list[str]:
    from advaudio.synthesis import FEEDBACKS, check_output_options
    from advaudio.registry import STITCHERS
    from advaudio.stitching import WINDOWS, crossfade_samples, resolve_method

    data, gen = cfg.data, cfg.generate
    problems = _at_least(cfg, ["generate.seconds"], 0, strict=True)
    problems += _at_least(cfg, ["generate.count", "generate.seed_frames"], 1)
    problems += _at_least(cfg, ["generate.dither"], 0)
    if cfg.model.stochastic:  # the temperature scales the model's noise
        problems += _at_least(cfg, ["generate.temperature"], 0)
    problems += [p for p in (_choice("generate.window", gen.window, WINDOWS),
                             _choice("generate.feedback", gen.feedback, FEEDBACKS)) if p]
    if gen.stitch != "auto" and gen.stitch not in STITCHERS:
        problems.append(f"generate.stitch={gen.stitch!r}: {STITCHERS.unknown_message(gen.stitch)} (or 'auto')")
    elif data.frame_length >= 1 and (data.frame_hop is None or 1 <= data.frame_hop <= data.frame_length):
        hop = frame_hop(data)
        if resolve_method(gen.stitch, data.frame_length, hop) == "crossfade":  # checked only where it is used
            try:
                crossfade_samples(gen.crossfade_length, data.frame_length, hop)
            except ValueError as err:
                problems.append(str(err))
    try:
        check_output_options(gen.format, gen.subtype, gen.loudness)
    except ValueError as err:
        problems.append(str(err))
    if gen.seed_from not in SEED_FROM_SPLITS and not Path(gen.seed_from).is_file():
        why = " (generation never seeds from the training split)" if gen.seed_from == "train" else ""
        problems.append(f"generate.seed_from={gen.seed_from!r} must be valid, test or an existing audio file{why}")
    return problems


def _problem_lines(err: Exception, prefix: str = "") -> list[str]:
    message = err.args[0] if isinstance(err, KeyError) and err.args else str(err)
    return [prefix + line for line in str(message).splitlines() if line.strip()]


# Sections owned by a feature module are checked by that module: (module, function(experiment) -> list of
# problem lines, or raising ValueError). `validate` runs them, then the checks users add to CONFIG_CHECKS.
FEATURE_CHECKS = (
    ("advaudio.revision", "check_config"),  # generate.revision*, revise.*
    ("advaudio.encoders", "check_config"),  # model.encoder, model.encoder_params
    ("advaudio.evaluation.generation_check", "config_problems"),  # train.generation_check.*, train.best_by
)


def _registry_problems(cfg: Experiment) -> list[str]:
    from advaudio.registry import CONFIG_CHECKS, OBJECTIVES

    problems = []
    name = cfg.objective.name
    try:
        check = OBJECTIVES.check_of(name)
    except KeyError as err:
        problems += _problem_lines(err, f"objective.name={name!r}: ")
    else:
        if check is not None:
            try:
                check(cfg)
            except (ValueError, KeyError, TypeError) as err:
                problems += _problem_lines(err)
    checks = [getattr(importlib.import_module(module), name) for module, name in FEATURE_CHECKS]
    for check in checks + [CONFIG_CHECKS.get(name) for name in CONFIG_CHECKS]:
        try:
            problems += list(check(cfg) or [])  # a list of problem lines, or raises
        except (ValueError, KeyError, TypeError) as err:
            problems += _problem_lines(err)
    return problems


def _revise_problems(cfg: Experiment) -> list[str]:
    """The checkpoint of `revise.from_run` exists (the rest of the section: advaudio.revision.check_config)."""
    revise = cfg.revise
    if revise.from_run is None or not Path(revise.from_run).is_dir():
        return []  # no source run, or one that advaudio.revision reports as missing
    from advaudio.checkpoints import checkpoint_entry

    try:
        checkpoint_entry(revise.from_run, revise.checkpoint)
    except (ValueError, FileNotFoundError) as err:
        return [f"revise.checkpoint={revise.checkpoint!r}: {err}"]
    return []


def validate(cfg: Experiment) -> Experiment:
    """Checks the whole config before any data is read or anything is written.

    Raises:
        ConfigError: one line per problem, each naming the key, the value and
            the valid choices or the nearest one.
    """
    problems = _type_problems(cfg)
    if not problems:  # ranges and look-ups assume the types
        if not cfg.name or cfg.name in (".", "..") or "/" in cfg.name or "\\" in cfg.name:
            problems.append(f"name={cfg.name!r} must be a non-empty folder name without '/' (it names the runs' folder)")
        problems += _at_least(cfg, SEED_KEYS, 0)
        for section in (_data_problems, _model_problems, _train_problems, _generate_problems, _revise_problems,
                        _registry_problems):
            problems += section(cfg)
    if problems:
        raise ConfigError("\n".join(dict.fromkeys(problems)))  # once each, in order
    return cfg
