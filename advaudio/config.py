"""Experiment configuration: dataclasses, experiment files and `--set` overrides.

An experiment file defines `get_config() -> Experiment`. Overrides `a.b=value`
are parsed with `ast.literal_eval` and type-checked against the field; an
unknown key names the nearest valid one.
"""
from __future__ import annotations

import ast
import dataclasses
import difflib
import importlib.util
import json
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
    stft: dict = field(default_factory=dict)  # kwargs of losses.MultiResolutionSTFTLoss
    regime: str = "teacher_forcing"  # teacher_forcing, scheduled_sampling, free_running
    sampling_probability: float = 0.25  # final p of scheduled sampling
    sampling_schedule: str = "linear"  # constant, linear, inverse_sigmoid
    sampling_ramp_steps: int = 2000  # steps over which p rises to its final value
    free_run_prefix: int = 10  # true frames before a free-running rollout
    free_run_steps: int = 8  # frames unrolled on the model's own predictions
    adversarial: Adversarial = field(default_factory=Adversarial)
    params: dict = field(default_factory=dict)  # extra kwargs for custom objectives


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


@dataclass
class Generate:
    seconds: float = 30.0
    count: int = 2  # sequences written at the end of a run
    stitch: str = "auto"  # auto, concat, overlap_add, crossfade
    crossfade_length: int = 256
    window: str = "hann"
    seed_frames: int = 10
    seed_from: str = "valid"  # valid, test, or an audio file
    dither: float = 0.0  # std of noise added to the fed-back frame
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


def _field_type(owner: Any, name: str) -> Any:
    hints = typing.get_type_hints(type(owner))
    return hints[name]


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
        raise ConfigError(f"{key}: {value!r} is not a {expected}")
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
            raise ConfigError(f"{key}: {raw!r} is not a Python literal (expected {expected})") from None
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


def smoke(cfg: Experiment) -> Experiment:
    """Shrinks any experiment so that it runs end to end in seconds."""
    cfg.data.default_minutes = min(cfg.data.default_minutes, 0.5)
    cfg.data.frame_length = min(cfg.data.frame_length, 400)
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
    cfg.generate.seed_frames = min(cfg.generate.seed_frames, 2)
    cfg.generate.count = 1
    cfg.generate.crossfade_length = min(cfg.generate.crossfade_length, cfg.data.frame_length // 4)
    return cfg


def frame_hop(data: Data) -> int:
    """The effective hop between frames in samples."""
    return data.frame_length if data.frame_hop is None else data.frame_hop


def example_span(data: Data) -> int:
    """Samples covered by one example of `sequence_length + 1` frames."""
    return (data.sequence_length) * frame_hop(data) + data.frame_length


def validate(cfg: Experiment) -> Experiment:
    """Cross-field checks that must fail before any data is read or training starts."""
    data, gen = cfg.data, cfg.generate
    problems = []
    for key in ("sample_rate", "frame_length", "sequence_length", "window_shift", "batch_size"):
        if getattr(data, key) < 1:
            problems.append(f"data.{key} must be >= 1, got {getattr(data, key)}")
    if data.frame_hop is not None and not 1 <= data.frame_hop <= data.frame_length:
        problems.append(f"data.frame_hop must be between 1 and data.frame_length={data.frame_length}, got {data.frame_hop}")
    if len(data.split) != 3 or min(data.split) < 0 or abs(sum(data.split) - 1.0) > 1e-6:
        problems.append(f"data.split must be three non-negative shares summing to 1, got {data.split}")
    if data.normalization not in ("standard", "minmax"):
        problems.append(f"data.normalization must be 'standard' or 'minmax', got {data.normalization!r}")
    if data.on_bad_file not in ("fail", "skip"):
        problems.append(f"data.on_bad_file must be 'fail' or 'skip', got {data.on_bad_file!r}")
    hop = frame_hop(data)
    # Overlapping frames leave min(overlap, hop) samples to fade over; whole frames at most half of one.
    longest_fade = min(data.frame_length - hop, hop) if hop < data.frame_length else data.frame_length // 2
    if not 0 <= gen.crossfade_length <= longest_fade:
        problems.append(
            f"generate.crossfade_length={gen.crossfade_length} must be between 0 and {longest_fade} for frames of "
            f"{data.frame_length} every {hop} samples; lower it with --set generate.crossfade_length=..."
        )
    if gen.seed_frames < 1 or gen.seconds <= 0 or gen.count < 1:
        problems.append("generate.seed_frames and generate.count must be >= 1 and generate.seconds > 0")
    if cfg.train.epochs < 1:
        problems.append(f"train.epochs must be >= 1, got {cfg.train.epochs}")
    if problems:
        raise ConfigError("; ".join(problems))
    return cfg
