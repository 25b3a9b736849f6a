"""The revision pass: a second network that rewrites whole windows of generated frames, past and future at once.

Generation is otherwise one pass, left to right; `generate.revision` names a
network (`REVISIONS`) that generation applies over the rolled-out frames in
overlapping windows before they are stitched. It is trained here, after the
generator in the same run or over a finished run (`revise.from_run`,
experiments/revise.py), on degraded windows -> the real audio they stand for.
"""
from __future__ import annotations

import dataclasses
import json
import os
import shutil
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from advaudio import config as config_lib
from advaudio.optimizers import FusedAdam
from advaudio.objectives.adversarial_side import ADVERSARIAL_TERMS, AdversarialSide, adversarial_section_problems
from advaudio.registry import Registry
from advaudio.stitching import stitched_length, synthesis_window

# name -> builder `(frame_length, **generate.revision_params) -> keras.Model` mapping windows
# `[batch, window_frames, frame_length]` to revised windows of the same shape.
REVISIONS = Registry("revision")
NONE = "none"
REVISION_KEYS = ("revision", "revision_params", "revision_window", "revision_hop")  # generate.* of the pass
REVISER_BEST = "reviser-best.weights.h5"
REVISER_LAST = "reviser-last.weights.h5"
REVISER_BEST_BY = ("val_loss", "last")  # revise.best_by
REVISER_INDEX = "reviser.json"
REVISER_STATE = "reviser_state"
REVISER_LOG = "reviser_log.csv"
WINDOW_TAPER = "hann"  # strictly positive (stitching.synthesis_window): every frame gets weight
MAX_WINDOWS_PER_CALL = 64  # windows revised per call of the network in generation (bounds memory)
ROLLOUT_BATCH = 64  # rollouts computed per call when building the training pool
# Salts of the stateless random streams (added to train.seed); each epoch's degraded windows are drawn
# from seed + DEGRADE_SALT + EPOCH_SEED_STRIDE * (epoch + 1), far from the other streams' seeds.
DEGRADE_SALT, ROLLOUT_SALT, MIX_SALT, VALID_SALT = 11, 12, 13, 14
EPOCH_SEED_STRIDE = 1000


@keras.saving.register_keras_serializable(package="advaudio")
class BidirectionalReviser(keras.Model):
    """Rewrites a window of frames seeing all of it: past and future frames at once.

    A stack of bidirectional GRUs reads the window frame by frame (each step
    one whole frame); a Dense head maps each step's two directions back to a
    frame, added to the input frame (a residual correction). The head starts
    at zero, so an untrained reviser returns its input unchanged.

    Args:
        frame_length: samples per frame (input and output width).
        units: units of each direction of each recurrent layer.
        layers: number of stacked bidirectional GRU layers.
        **kwargs: forwarded to `keras.Model`.

    Shapes:
        call: frames `[batch, window_frames, frame_length]` -> revised frames
        `[batch, window_frames, frame_length]`; any window length.

    Example:
        >>> reviser = BidirectionalReviser(frame_length=400, units=64)
        >>> y = reviser(keras.random.normal((2, 16, 400)))  # [2, 16, 400]

    Reference: the 2016 course project's unbuilt idea ("something that could
    'revise' its predictions -- maybe using a bidirectional RNN"); Schuster &
    Paliwal (1997), bidirectional recurrent networks.
    """

    def __init__(self, frame_length: int, units: int = 128, layers: int = 1, **kwargs):
        super().__init__(**kwargs)
        if frame_length < 1 or units < 1 or layers < 1:
            raise ValueError(
                f"the bidirectional revision needs frame_length, units and layers >= 1, got "
                f"{frame_length}, {units}, {layers} (generate.revision_params)"
            )
        self.frame_length = frame_length
        self.units = units
        self.num_layers = layers
        self.recurrent_layers = [
            keras.layers.Bidirectional(keras.layers.GRU(units, return_sequences=True), name=f"bigru_{i}")
            for i in range(layers)
        ]
        self.head = keras.layers.Dense(frame_length, kernel_initializer="zeros", name="head")

    def build(self, input_shape):
        shape = tuple(input_shape)
        for layer in self.recurrent_layers:
            layer.build(shape)
            shape = shape[:-1] + (2 * self.units,)
        self.head.build(shape)
        self.built = True

    def call(self, frames, training=None):
        x = frames
        for layer in self.recurrent_layers:
            x = layer(x, training=training)
        return frames + self.head(x)

    def get_config(self):
        config = super().get_config()
        config.update(frame_length=self.frame_length, units=self.units, layers=self.num_layers)
        return config


@REVISIONS.register("bidirectional")
def build_bidirectional(frame_length: int, **params) -> BidirectionalReviser:
    """`BidirectionalReviser(frame_length, **params)` (params: units, layers)."""
    return BidirectionalReviser(frame_length, name="reviser", **params)


def revision_name(revision) -> str:
    """The name recorded for `generate.revision` (a callable's qualified name)."""
    if isinstance(revision, str):
        return revision
    return f"{getattr(revision, '__module__', '?')}.{getattr(revision, '__qualname__', repr(revision))}"


def build_reviser(experiment: config_lib.Experiment):
    """The configured revision network, built for `[batch, window, frame_length]` windows."""
    gen = experiment.generate
    if gen.revision == NONE:
        raise ValueError("generate.revision is 'none': there is no revision network to build")
    frame_length = experiment.data.frame_length
    reviser = REVISIONS.build(gen.revision, frame_length, **gen.revision_params)
    reviser.build((None, None, frame_length))
    return reviser


def check_config(experiment: config_lib.Experiment) -> None:
    """Raises ConfigError for revision options that cannot work (before any data is read)."""
    gen, revise = experiment.generate, experiment.revise
    problems = []
    if gen.revision != NONE:
        try:
            REVISIONS.get(gen.revision)
        except KeyError as err:
            problems.append(f"generate.revision: {err.args[0]} (or 'none')")
    if gen.revision_window < 1 or not 1 <= gen.revision_hop <= gen.revision_window:
        problems.append(
            f"generate.revision_window must be >= 1 and 1 <= generate.revision_hop <= revision_window, got "
            f"window {gen.revision_window}, hop {gen.revision_hop}"
        )
    if revise.from_run is not None and not (Path(revise.from_run) / "config.json").is_file():
        problems.append(f"revise.from_run={revise.from_run!r} is not a run folder (no config.json); pass the folder "
                        "printed as 'run folder:' by the run whose generator you want to revise")
    if revise.from_run is not None and gen.revision == NONE:
        problems.append("revise.from_run trains a revision pass, but generate.revision is 'none'; "
                        "set generate.revision=bidirectional (experiments/revise.py does)")
    if gen.revision != NONE:
        if not revise.loss_weights:
            problems.append("revise.loss_weights is empty; give at least one term, e.g. {'rec/mse': 1.0}")
        adversarial = sorted(name for name in revise.loss_weights if name.startswith("adv/"))
        unknown = [name for name in adversarial if name not in ADVERSARIAL_TERMS]
        if unknown:
            problems.append(f"revise.loss_weights: {unknown} are not adversarial terms; the revision pass's "
                            f"discriminator gives {list(ADVERSARIAL_TERMS)}")
        elif adversarial:  # D (objective.adversarial) judges stitched runs of the revised windows
            problems += [f"with {adversarial} in revise.loss_weights: {problem}"
                         for problem in adversarial_section_problems(experiment, gen.revision_window)]
            if len(adversarial) == len(revise.loss_weights):
                problems.append(f"revise.loss_weights has only {adversarial}; add a rec/* or spec/* term (the "
                                "validation loss that picks the best revision pass weighs those), e.g. 'rec/mse'")
        if revise.best_by not in REVISER_BEST_BY:
            problems.append(f"revise.best_by must be one of {REVISER_BEST_BY}, got {revise.best_by!r}")
        for key in ("epochs", "steps_per_epoch", "rollouts", "validation_windows", "prefix_frames"):
            if getattr(revise, key) < 1:
                problems.append(f"revise.{key} must be >= 1, got {getattr(revise, key)}")
        if not 0.0 <= revise.rollout_share <= 1.0:
            problems.append(f"revise.rollout_share must be in [0, 1], got {revise.rollout_share}")
        if revise.noise_std < 0 or revise.clicks_per_frame < 0 or revise.click_amplitude < 0:
            problems.append("revise.noise_std, revise.clicks_per_frame and revise.click_amplitude must be >= 0")
        if experiment.train.distribute == "multi_worker":
            problems.append("the revision pass trains on one machine; use train.distribute='default' or 'mirrored'")
        if any(name.startswith("spec/") for name in revise.loss_weights):
            from advaudio.losses import check_resolutions, stft_options, stft_resolutions

            data = experiment.data
            hop = config_lib.frame_hop(data)
            samples = stitched_length(gen.stitch, gen.revision_window, data.frame_length, hop, gen.crossfade_length)
            try:
                check_resolutions(*stft_resolutions(stft_options(experiment)), samples)
            except ValueError as err:
                problems.append(f"revise.loss_weights spec/* terms judge one stitched revision window "
                                f"(generate.revision_window frames): {err}")
    if problems:
        raise config_lib.ConfigError("\n".join(problems))


def adopt_source_run(experiment: config_lib.Experiment, overrides: list[str]) -> config_lib.Experiment:
    """With `revise.from_run`: takes the data and model sections from that run's config.json, and its
    generate section apart from the generate.revision* keys (then `--set generate.*` overrides again).

    The revised generator must be the run's own, seeded and trained on its data,
    so overriding `data.*` or `model.*` here is refused; generating as the source
    run did makes its samples the unrevised counterpart of this run's.
    """
    source = experiment.revise.from_run
    if source is None:
        return experiment
    config_path = Path(source) / "config.json"
    if not config_path.is_file():
        raise config_lib.ConfigError(
            f"revise.from_run={source!r} is not a run folder (no config.json); pass the folder printed as "
            "'run folder:' by the run whose generator you want to revise"
        )
    fixed = [o for o in overrides if o.split("=", 1)[0].strip().split(".")[0] in ("data", "model")]
    if fixed:
        raise config_lib.ConfigError(
            f"{fixed}: with revise.from_run the data and model are those of the source run; drop these overrides"
        )
    source_cfg = config_lib.load_json(config_path)
    experiment.data = source_cfg.data
    experiment.model = source_cfg.model
    revision_keys = {key: getattr(experiment.generate, key) for key in REVISION_KEYS}
    experiment.generate = dataclasses.replace(source_cfg.generate, **revision_keys)
    return config_lib.apply_overrides(experiment, [o for o in overrides if o.strip().startswith("generate.")])


def resolve(experiment: config_lib.Experiment, overrides: list[str], smoke: bool) -> config_lib.Experiment:
    """The run's config when it trains a revision pass: the source run's data and model (`revise.from_run`),
    smoke sizes under `--smoke`, validated again (`check_config` is one of config.validate's feature checks)."""
    adopt_source_run(experiment, overrides)
    if smoke:  # --smoke shrinks before the overrides: they still win
        shrink_for_smoke(experiment)
        config_lib.apply_overrides(experiment, [o for o in overrides if o.startswith(("revise.", "generate.revision"))])
    return config_lib.validate(experiment)  # runs check_config too (config.FEATURE_CHECKS)


# --------------------------------------------------------------------------- revising generated frames


def window_starts(num_frames: int, window_frames: int, hop_frames: int) -> list[int]:
    """First frames of the windows covering `num_frames` frames: every `hop_frames`, the last one flush
    with the end (a single window when the frames fit in one)."""
    if num_frames <= window_frames:
        return [0]
    starts = list(range(0, num_frames - window_frames + 1, hop_frames))
    if starts[-1] != num_frames - window_frames:
        starts.append(num_frames - window_frames)
    return starts


def revise_frames(reviser, frames, window_frames: int, hop_frames: int) -> np.ndarray:
    """Applies a revision network over overlapping windows of frames and averages the overlaps.

    Window k covers frames s_k .. s_k + W - 1 (`window_starts`); frame n of the
    output is the taper-weighted mean of its revisions by every window that
    covers it:

        out[n] = sum_k taper[n - s_k] * revised_k[n - s_k] / sum_k taper[n - s_k]

    with a strictly positive Hann taper (window edges, where the network sees
    only one side, count least). The result is stitched as any rollout is.

    Args:
        reviser: a callable `[windows, W, frame_length] -> [windows, W, frame_length]`.
        frames: `[batch, num_frames, frame_length]` rolled-out frames.
        window_frames, hop_frames: W and the hop between window starts.
    Returns:
        `[batch, num_frames, frame_length]` float32.
    """
    frames = np.asarray(frames, dtype=np.float32)
    batch, num_frames, frame_length = frames.shape
    starts = window_starts(num_frames, window_frames, hop_frames)
    width = min(window_frames, num_frames)
    taper = synthesis_window(WINDOW_TAPER, width)
    windows = np.stack([frames[:, s : s + width] for s in starts], axis=1).reshape(-1, width, frame_length)
    revised = np.concatenate([
        np.asarray(reviser(tf.constant(windows[i : i + MAX_WINDOWS_PER_CALL]), training=False))
        for i in range(0, len(windows), MAX_WINDOWS_PER_CALL)
    ]).reshape(batch, len(starts), width, frame_length)
    out = np.zeros_like(frames)
    weight = np.zeros(num_frames, dtype=np.float32)
    for k, s in enumerate(starts):
        out[:, s : s + width] += taper[:, None] * revised[:, k]
        weight[s : s + width] += taper
    return out / weight[None, :, None]


def load_reviser(run_dir, experiment: config_lib.Experiment):
    """The run's trained revision network (checkpoints/reviser-best.weights.h5) and its info.

    Returns:
        (reviser, {"name", "path", "epoch", "val_loss"}).
    """
    run_dir = Path(run_dir)
    path = run_dir / "checkpoints" / REVISER_BEST
    if not path.is_file():
        raise FileNotFoundError(
            f"generate.revision={revision_name(experiment.generate.revision)!r} but {run_dir} has no trained "
            f"revision pass ({path.relative_to(run_dir)}); train one with: python -m advaudio.run "
            f"experiments/revise.py --set revise.from_run={run_dir}  (or generate with --set generate.revision=none)"
        )
    reviser = build_reviser(experiment)
    try:
        reviser.load_weights(str(path))
    except ValueError as err:
        raise ValueError(f"{path} does not fit generate.revision / generate.revision_params of the run's config: "
                         f"{err}") from err
    index_path = run_dir / "checkpoints" / REVISER_INDEX
    best = json.loads(index_path.read_text()).get("best", {}) if index_path.is_file() else {}
    return reviser, {"name": revision_name(experiment.generate.revision), "path": str(path),
                     "epoch": best.get("epoch"), "val_loss": best.get("val_loss")}


# --------------------------------------------------------------------------- training data


def degrade(segments, noise_std: float, click_probability: float, click_amplitude: float, seed):
    """Real audio made to sound generated: Gaussian noise and single-sample clicks.

        degraded[t] = x[t] + noise_std * n[t] + click_amplitude * s[t] * c[t]

    with n ~ N(0, 1), c[t] ~ Bernoulli(click_probability) and random signs
    s[t] in {-1, +1}, all drawn statelessly from `seed`.

    Args:
        segments: `[batch, samples]` float32.
        seed: `[2]` int seed of `tf.random.stateless_*`.
    Returns:
        `[batch, samples]`.
    """
    segments = tf.convert_to_tensor(segments, tf.float32)
    shape = tf.shape(segments)
    seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), 3)
    noise = tf.random.stateless_normal(shape, seed=seeds[0])
    clicks = tf.cast(tf.random.stateless_uniform(shape, seed=seeds[1]) < click_probability, tf.float32)
    signs = tf.sign(tf.random.stateless_uniform(shape, seed=seeds[2]) - 0.5)
    return segments + noise_std * noise + click_amplitude * signs * clicks


def _frames(segments, frame_length: int, hop: int):
    return tf.signal.frame(segments, frame_length, hop, axis=-1)


def degraded_real_dataset(signal: np.ndarray, experiment: config_lib.Experiment, seed: int,
                          count: int | None = None) -> tf.data.Dataset:
    """(degraded window, clean window) pairs `[W, frame_length]` from real audio at random positions.

    Infinite when `count` is None; element i is drawn from (seed, i), so the
    stream is reproducible.
    """
    data, revise, window = experiment.data, experiment.revise, experiment.generate.revision_window
    hop = config_lib.frame_hop(data)
    span = (window - 1) * hop + data.frame_length
    if len(signal) < span:
        raise ValueError(f"the revision pass needs {span} samples of audio per window but a split has "
                         f"{len(signal)}; lower generate.revision_window or give more audio")
    last_start = len(signal) - span
    signal = tf.constant(np.asarray(signal, dtype=np.float32))
    click_probability = revise.clicks_per_frame / data.frame_length

    def make(i):
        position_seed, degrade_seed = tf.unstack(
            tf.random.experimental.stateless_split(tf.stack([tf.constant(seed, tf.int64), i]), 2))
        start = tf.random.stateless_uniform([], seed=position_seed, maxval=last_start + 1, dtype=tf.int32)
        clean = signal[start : start + span]
        noisy = degrade(clean[None], revise.noise_std, click_probability, revise.click_amplitude, degrade_seed)[0]
        return _frames(noisy, data.frame_length, hop), _frames(clean, data.frame_length, hop)

    indices = tf.data.Dataset.counter() if count is None else tf.data.Dataset.range(count)
    return indices.map(make, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


def rollout_windows(generator, signal: np.ndarray, experiment: config_lib.Experiment, count: int, seed: int):
    """The generator's own rollouts from true prefixes and the real continuations they stand for.

    At `count` random positions of `signal`, `revise.prefix_frames` true frames
    seed `advaudio.synthesis.rollout_frames` (with the run's feedback, window,
    dither and temperature: exactly how generation rolls out), which predicts W =
    `generate.revision_window` frames.

    Returns:
        (rollouts, targets): `[count, W, frame_length]` float32 each.
    """
    from advaudio import synthesis  # synthesis imports this module lazily; keep the cycle lazy too

    data, gen, revise = experiment.data, experiment.generate, experiment.revise
    hop = config_lib.frame_hop(data)
    prefix, window = revise.prefix_frames, gen.revision_window
    span = synthesis.seed_span(prefix + window, data.frame_length, hop)
    positions = synthesis.choose_seed_positions(len(signal), count, span, seed)
    rollouts, targets = [], []
    for i in range(0, count, ROLLOUT_BATCH):
        chunk = positions[i : i + ROLLOUT_BATCH]
        frames = synthesis.seed_frames_at(signal, chunk, prefix + window, data.frame_length, hop)
        rollouts.append(synthesis.rollout_frames(
            generator, frames[:, :prefix], window, hop, feedback=gen.feedback, window=gen.window,
            dither=gen.dither, seed=seed + i, temperature=gen.temperature,
        ))
        targets.append(frames[:, prefix:])
    return np.concatenate(rollouts), np.concatenate(targets)


def training_dataset(generator, signal, experiment: config_lib.Experiment, epoch: int) -> tf.data.Dataset:
    """Batches of (degraded, clean) windows: rollouts with probability `revise.rollout_share`, else
    degraded real audio. The rollout pool is computed once per process (`_pool`)."""
    revise, seed = experiment.revise, experiment.train.seed
    parts, weights = [], []
    if revise.rollout_share > 0:
        rollouts, targets = _pool(generator, signal, experiment)
        parts.append(tf.data.Dataset.from_tensor_slices((rollouts, targets))
                     .shuffle(len(rollouts), seed=seed + epoch, reshuffle_each_iteration=True).repeat())
        weights.append(revise.rollout_share)
    if revise.rollout_share < 1:
        parts.append(degraded_real_dataset(signal, experiment, seed=seed + DEGRADE_SALT + EPOCH_SEED_STRIDE * (epoch + 1)))
        weights.append(1.0 - revise.rollout_share)
    mixed = parts[0] if len(parts) == 1 else tf.data.Dataset.sample_from_datasets(
        parts, weights=weights, seed=seed + MIX_SALT + epoch)
    return mixed.batch(experiment.data.batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)


_POOLS: dict = {}


def _pool(generator, signal, experiment):
    key = (id(generator), id(signal))
    if key not in _POOLS:
        _POOLS.clear()  # one pool at a time: they are large
        _POOLS[key] = rollout_windows(generator, signal, experiment, experiment.revise.rollouts,
                                      experiment.train.seed + ROLLOUT_SALT)
    return _POOLS[key]


def validation_dataset(generator, signal, experiment: config_lib.Experiment) -> tf.data.Dataset:
    """Fixed validation batches: `revise.validation_windows` rollouts and as many degraded real windows."""
    count, seed = experiment.revise.validation_windows, experiment.train.seed + VALID_SALT
    rollouts, targets = rollout_windows(generator, signal, experiment, count, seed)
    real = degraded_real_dataset(signal, experiment, seed=seed, count=count)
    pairs = tf.data.Dataset.from_tensor_slices((rollouts, targets)).concatenate(real)
    return pairs.batch(experiment.data.batch_size, drop_remainder=True)


# --------------------------------------------------------------------------- training


class ReviserTrainer(AdversarialSide, keras.Model):
    """Trains a revision network on (degraded, clean) window batches with the package's loss terms.

    The terms are `revise.loss_weights` built from `advaudio.losses.LOSS_TERMS`
    (rec/* on the frames, spec/* on the stitched window, with `objective.stft`),
    exactly as a generator's terms are, and optionally the adversarial terms
    adv/gen and adv/feat: then a discriminator (`objective.adversarial`, the
    denoising GAN's side, `objectives/adversarial_side.py`) learns to tell
    stitched runs of the clean windows from the revised ones (and from noise
    negatives), switched on after `objective.adversarial.d_start_step`
    reviser updates, and is saved and resumed with the reviser. Besides every
    term it logs `unrevised/loss`: the same weighted loss of the degraded
    input itself (reconstruction terms only), so `loss < unrevised/loss`
    reads directly as "the pass repairs".

    Args:
        reviser: the revision network.
        experiment: the resolved Experiment (revise, objective.stft, generate, data).
        **kwargs: forwarded to `keras.Model`.

    Shapes:
        data: `(degraded [batch, W, frame_length], clean [batch, W, frame_length])`.
    """

    def __init__(self, reviser, experiment: config_lib.Experiment, **kwargs):
        super().__init__(**kwargs)
        from advaudio.objectives.base import build_loss_terms

        self.reviser = reviser
        self.experiment = experiment
        # The revision's terms, read by LOSS_TERMS factories and LossContext from objective.loss_weights.
        self.loss_experiment = dataclasses.replace(
            experiment, objective=dataclasses.replace(experiment.objective, loss_weights=dict(experiment.revise.loss_weights))
        )
        weights = experiment.revise.loss_weights
        self.loss_terms = build_loss_terms(self.loss_experiment, names=[n for n in weights if not n.startswith("adv/")])
        self.adversarial = any(name in weights for name in ADVERSARIAL_TERMS)
        if self.adversarial:
            self.build_adversarial_side(experiment)
        train = experiment.train
        self.reviser_optimizer = FusedAdam(
            learning_rate=experiment.revise.learning_rate, beta_1=train.beta_1, beta_2=train.beta_2
        )
        self.reviser_optimizer.build(self.reviser.trainable_variables)

    def optimizers(self) -> dict:
        return {"reviser": self.reviser_optimizer, **({"discriminator": self.discriminator_optimizer}
                                                      if self.adversarial else {})}

    def networks(self) -> dict:
        return {"reviser": self.reviser, **({"discriminator": self.discriminator} if self.adversarial else {})}

    @property
    def adversarial_weights(self) -> dict:
        return self.experiment.revise.loss_weights

    def _stateless_seed(self, salt: int, per_replica: bool = True):
        """The seed of one of D's random streams (`objectives.base.stateless_seed`), by reviser step."""
        from advaudio.objectives.base import stateless_seed

        return stateless_seed(self.experiment.train.seed + salt, self.step_counter, per_replica)

    def counts_for_best(self) -> bool:
        """With adversarial terms, True once D has taken a step: a pass D never judged is not the experiment's."""
        return not self.adversarial or self.discriminator_has_trained()

    @property
    def step_counter(self):
        return self.reviser_optimizer.iterations

    def call(self, degraded, training=None):
        return self.reviser(degraded, training=training)

    def _loss_values(self, revised, clean, training: bool) -> tuple:
        from advaudio.objectives.base import LossContext

        values = {name: fn(LossContext(revised, clean, self.loss_experiment, training=training))
                  for name, (_, fn) in self.loss_terms.items()}
        total = tf.add_n([weight * values[name] for name, (weight, _) in self.loss_terms.items()])
        return total, values

    def _windows(self, data):
        """(degraded, clean) `[batch, window, frame_length]` with a static shape (D's examples are cut from it):
        a dataset's unknown window is `revision_window` frames."""
        window, frame_length = self.experiment.generate.revision_window, self.experiment.data.frame_length
        return tuple(tf.ensure_shape(x, [None, x.shape[1] or window, x.shape[2] or frame_length]) for x in data)

    def _weighted(self, values: dict):
        weights = self.experiment.revise.loss_weights
        return tf.add_n([weights[name] * value for name, value in values.items()])

    def train_step(self, data):
        from advaudio.objectives.base import reduce_and_clip, replicas_in_sync

        degraded, clean = self._windows(data)
        active = self.discriminator_active() if self.adversarial else None
        with tf.GradientTape() as tape:
            revised = self.reviser(degraded, training=True)
            _, values = self._loss_values(revised, clean, training=True)
            d_logs = {}
            if self.adversarial:
                terms, d_logs = self.adversarial_step(
                    self.discriminator_examples(clean), self.discriminator_examples(revised), active, tape
                )
                values.update(terms)
            loss = self._weighted(values)
            scaled = loss / replicas_in_sync()
        variables = self.reviser.trainable_variables
        grads, norm = reduce_and_clip(tape.gradient(scaled, variables), self.experiment.train.clipnorm)
        self.reviser_optimizer.apply(grads, variables)
        return {"loss": loss, **values, **d_logs, "grad_norm/reviser": norm}

    def test_step(self, data):
        """"loss" and "unrevised/loss" weigh the reconstruction terms only (D keeps moving, so its terms do
        not compare across epochs and do not pick the best reviser); adv/* and D's accuracies are logged
        alongside, from D's current weights."""
        degraded, clean = self._windows(data)
        revised = self.reviser(degraded, training=False)
        loss, values = self._loss_values(revised, clean, training=False)
        unrevised, _ = self._loss_values(degraded, clean, training=False)
        logs = {"loss": loss, **values, "unrevised/loss": unrevised}
        if self.adversarial:
            logs.update(self.validation_adversarial_logs(clean, revised))
        return logs


def _save_reviser(run_dir: Path, reviser, epoch: int, val_loss: float, eligible: bool = True,
                  best_by: str = "val_loss") -> dict:
    """Writes the last and (if better) best reviser weights and checkpoints/reviser.json.

    "Better" is the generator checkpoints' rule (`checkpoints.is_better`): an `eligible` epoch
    (`ReviserTrainer.counts_for_best`) always beats an ineligible best and an ineligible one never beats an
    eligible best; then the lower `val_loss`, or with `best_by="last"` the latest epoch.
    """
    from advaudio.checkpoints import is_better

    folder = run_dir / "checkpoints"
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / ("tmp-" + REVISER_LAST)
    reviser.save_weights(str(tmp))
    os.replace(tmp, folder / REVISER_LAST)
    index_path = folder / REVISER_INDEX
    index = json.loads(index_path.read_text()) if index_path.is_file() else {"best": None}
    entry = {"epoch": int(epoch), "val_loss": float(val_loss), "path": f"checkpoints/{REVISER_BEST}",
             "eligible": bool(eligible), "best_by": best_by}
    if is_better(None if best_by == "last" else float(val_loss), index.get("best"), eligible):
        shutil.copyfile(folder / REVISER_LAST, folder / ("tmp-" + REVISER_BEST))
        os.replace(folder / ("tmp-" + REVISER_BEST), folder / REVISER_BEST)
        index["best"] = entry
    index["last"] = {**entry, "path": f"checkpoints/{REVISER_LAST}"}
    tmp_index = folder / (REVISER_INDEX + ".tmp")
    tmp_index.write_text(json.dumps(index, indent=2) + "\n")
    os.replace(tmp_index, index_path)
    return index


def adopt_generator(experiment: config_lib.Experiment, run_dir: Path) -> list:
    """With `revise.from_run`: copies that run's chosen generator checkpoint into this run folder (its
    best), so this folder generates on its own. Returns a one-row history for the caller."""
    from advaudio import checkpoints

    generator, info = checkpoints.load_generator(experiment.revise.from_run, experiment.revise.checkpoint)
    checkpoints.save_generator_checkpoint(run_dir, generator, epoch=info["epoch"], step=info["step"],
                                          val_loss=info["val_loss"], keep_last=1)
    (Path(run_dir) / "revised_from.json").write_text(json.dumps(
        {"run": str(experiment.revise.from_run), "checkpoint": experiment.revise.checkpoint, **info}, indent=2) + "\n")
    return [{"epoch": info["epoch"], "val_loss": info["val_loss"]}]


def train_for_run(experiment: config_lib.Experiment, strategy, prepared, run_dir, *, resume: bool = False,
                  verbose: int = 1) -> list:
    """Trains the run's revision pass on its best generator; writes checkpoints/reviser-*.weights.h5,
    checkpoints/reviser.json and reviser_log.csv into the run folder.

    Returns:
        The logs of every epoch run (empty when it had already finished).
    """
    from advaudio import checkpoints, training

    run_dir = Path(run_dir)
    revise = experiment.revise
    generator, _ = checkpoints.load_generator(run_dir, "best")
    with strategy.scope():
        reviser = build_reviser(experiment)
        trainer = ReviserTrainer(reviser, experiment, name="reviser_trainer")
    state = training.TrainingState(trainer, run_dir / "checkpoints" / REVISER_STATE, experiment.train.keep_checkpoints)
    initial_epoch = state.restore_latest() if resume else 0
    if initial_epoch >= revise.epochs:
        return []
    log_path = run_dir / REVISER_LOG
    rows = [row for row in training.read_log_rows(log_path) if row["epoch"] < initial_epoch]
    train_signal = prepared.train.signal
    valid = validation_dataset(generator, prepared.valid.signal, experiment)

    def on_epoch_saved(epoch: int, logs: dict) -> None:
        rows.append({"epoch": epoch, **logs})
        training.write_log(log_path, rows)
        _save_reviser(run_dir, reviser, epoch + 1, logs.get("val_loss", logs["loss"]), trainer.counts_for_best(),
                      revise.best_by)
        state.save(epoch + 1)

    print(f"training the revision pass ({revision_name(experiment.generate.revision)}) on {run_dir}")
    loop = training.Loop(trainer, strategy, jit_compile=experiment.train.jit_compile)
    return loop.fit(
        lambda epoch: training_dataset(generator, train_signal, experiment, epoch),
        valid,
        epochs=revise.epochs,
        steps_per_epoch=revise.steps_per_epoch,
        validation_steps=None,
        initial_epoch=initial_epoch,
        on_epoch_saved=on_epoch_saved,
        verbose=verbose,
    )


def shrink_for_smoke(experiment: config_lib.Experiment) -> config_lib.Experiment:
    """The revision part of `--smoke`: a few steps on short windows."""
    revise, gen = experiment.revise, experiment.generate
    revise.epochs = min(revise.epochs, 2)
    revise.steps_per_epoch = min(revise.steps_per_epoch, 2)
    revise.rollouts = min(revise.rollouts, 8)
    revise.validation_windows = min(revise.validation_windows, 4)
    revise.prefix_frames = min(revise.prefix_frames, 2)
    gen.revision_window = min(gen.revision_window, 8)  # 8 frames of 400 stitched: 3200 >= the 2048 FFT
    gen.revision_hop = min(gen.revision_hop, 4)
    if gen.revision == "bidirectional":
        gen.revision_params = {**gen.revision_params, "units": min(gen.revision_params.get("units", 8), 8)}
    return experiment
