"""Synthesis, the library behind `python -m advaudio.generate`: the only place audio is generated
(the compiled autoregressive rollout over the model's step, seeding, stitching, safe audio files).

`generate` turns seed frames into exactly the requested samples (seed
excluded); `generate_for_run` picks seeds, de-normalises with the run's
statistics and writes samples/sample_XXX.wav + .json + samples/seeds/.
"""
from __future__ import annotations

import functools
import json
import logging
import weakref
from pathlib import Path
from typing import Callable

import numpy as np
import soundfile as sf
import tensorflow as tf

from advaudio import config as config_lib
from advaudio.stitching import (frames_needed, normalised, resolve_method, stitch, stitched_length, synthesis_window,
                                window_power)

log = logging.getLogger(__name__)

FEEDBACKS = ("stitched", "raw")
SUBTYPES = {"PCM_16": 2**15 - 1, "PCM_24": 2**23 - 1, "FLOAT": None}
FORMATS = ("wav", "flac")
LOUDNESS = ("none", "peak", "rms")
PEAK_TARGET = 10 ** (-1.0 / 20)  # -1 dBFS: headroom for resampling in players
RMS_TARGET = 10 ** (-20.0 / 20)  # -20 dBFS, a common level for speech and music
SPLITS = ("valid", "test")  # seed splits; never train
# Fold the head once a rollout has units / 16 frames: folding is one [units, frame_length] x
# [frame_length, gates * units] product, about `units` steps' worth of flops, but a matrix product
# runs ~10x more flops per second than the per-step matrix-vector products it saves (measured on CPU).
FOLD_MIN_FRAMES_PER_UNIT = 1 / 16
UNFOLDABLE = "this rollout cannot be folded (stitched feedback, skip connections or another head)"
MODEL_NOISE_SEED_SALT = 104729  # keeps the model-noise stream apart from the dither stream of the same seed


# --------------------------------------------------------------------------- rollout


class Rollout:
    """A compiled autoregressive rollout of one FrameGRU.

    The model's states are warmed up on the seed frames (`call_with_states`);
    then one `tf.function` loop (`tf.while_loop` via autograph, XLA-compiled
    when `jit_compile`) feeds every prediction back through `FrameGRU.step`,
    or, when the raw prediction is fed back, through
    `FrameGRU.feedback_unroll` with the Dense head folded into the first
    layer's input kernel (same results to float tolerance, a per-step cost
    independent of frame_length).

    Args:
        generator: a built FrameGRU.
        frame_hop: hop between frames in samples.
        feedback: "raw" feeds back the prediction itself; "stitched" feeds back
            the frame of the overlap-added signal so far (the new prediction
            averaged with the earlier frames and the seed that overlap it);
            identical to "raw" when frames do not overlap.
        window: synthesis window of the "stitched" feedback (see stitching).
        dither: std of Gaussian noise added to every fed-back frame (normalised
            units); the noise never reaches the output.
        temperature: scale of the model's own noise (`generator.noise_width`
            values per frame: its input noise and its layer noise, standard
            normal times temperature; 0: the mean behaviour). Unused when the
            model has no noise.
        jit_compile: XLA-compile the loop; falls back to plain graph mode if
            XLA fails.

    Shapes:
        warm_up: seed frames `[batch, seed_frames, frame_length]` -> carry.
        run: (carry, steps) -> (frames `[batch, steps, frame_length]`, carry).

    Randomness: the dither of the frame fed at global step s is drawn with the
    stateless seed (seed, s), the model noise with (seed + MODEL_NOISE_SEED_SALT,
    s), the model noise of the seed frames with (seed + MODEL_NOISE_SEED_SALT,
    -1): the same seed gives the same audio, whatever the chunking or XLA.
    """

    def __init__(self, generator, frame_hop: int, feedback: str = "stitched", window: str = "hann",
                 dither: float = 0.0, jit_compile: bool = True, temperature: float = 1.0):
        if feedback not in FEEDBACKS:
            raise ValueError(f"generate.feedback must be one of {FEEDBACKS}, got {feedback!r}")
        if dither < 0:
            raise ValueError(f"generate.dither must be >= 0, got {dither}")
        if temperature < 0:
            raise ValueError(f"generate.temperature must be >= 0, got {temperature}")
        # A weak reference: the module-level cache of rollouts must not keep models alive.
        self._generator = weakref.ref(generator)
        self.frame_length = int(generator.frame_length)
        self.frame_hop = int(frame_hop)
        if not 0 < self.frame_hop <= self.frame_length:
            raise ValueError(f"frame_hop must be in 1..frame_length={self.frame_length}, got {frame_hop}")
        self.overlapping = feedback == "stitched" and self.frame_hop < self.frame_length
        self.feedback = feedback
        self.window = window
        self.dither = float(dither)
        self.temperature = float(temperature)
        self.noise_width = int(getattr(generator, "noise_width", 0))
        self.jit_compile = jit_compile
        self._window = tf.constant(synthesis_window(window, self.frame_length))
        # The overlap-add's normaliser sums w ** stitching.window_power(window) (see stitching.normalised).
        self._norm_window = tf.constant(synthesis_window(window, self.frame_length) ** window_power(window))
        self._seed_noise = tf.function(self._draw_seed_noise)
        self._noise = tf.function(self._draw_noise)
        self._fold = tf.function(self._fold_fn)
        self._folded = None  # (fingerprint of the weights, folded weights)
        self._probes = None  # fixed random vectors of the fingerprint
        self._functions: dict[tuple, Callable] = {}  # (name, jit) -> tf.function

    @property
    def generator(self):
        return self._generator()

    @property
    def stochastic(self) -> bool:
        """Whether the model's noise input gets nonzero noise."""
        return self.noise_width > 0 and self.temperature > 0

    def _draw_seed_noise(self, batch, seed_frames, noise_seed):
        """The model noise of the seed frames `[batch, seed_frames, noise_width]` (outside XLA, see `_draw_noise`)."""
        shape = tf.stack([batch, seed_frames, self.noise_width])
        seed = tf.stack([noise_seed + MODEL_NOISE_SEED_SALT, -1])
        return self.temperature * tf.random.stateless_normal(shape, seed=seed, alg="philox")

    # The carry: (prediction [B, F], states, overlap-add numerator [B, F] and
    # denominator [F] over the next frame's span, step counter, noise seed).
    def _warm_up_fn(self, seed_frames, noise_seed, noise, probes):
        """(carry, fingerprint of the weights `[weights]`, or `[0]` without `probes`).

        Only the last seed frame's prediction is formed (the head reads the
        other steps' features for nothing). The fingerprint rides in the same
        call: both read every weight, and one compiled call costs less than two.
        """
        g = self.generator
        batch = tf.shape(seed_frames)[0]
        features, states = g.features_with_states(seed_frames, g.initial_states(batch), noise=noise)
        pred = g.head(features[:, -1])
        if self.overlapping:
            w = self._window
            num = tf.signal.overlap_and_add(seed_frames * w, self.frame_hop)
            den = tf.signal.overlap_and_add(tf.ones_like(seed_frames[:1]) * self._norm_window, self.frame_hop)[0]
            start = tf.shape(seed_frames)[1] * self.frame_hop  # where the first predicted frame begins
            tail = self.frame_length - self.frame_hop
            num = tf.pad(num[:, start : start + tail], [[0, 0], [0, self.frame_hop]])
            den = tf.pad(den[start : start + tail], [[0, self.frame_hop]])
        else:
            num = tf.zeros_like(seed_frames[:, 0])
            den = tf.zeros((self.frame_length,), seed_frames.dtype)
        fingerprint = tf.zeros([0]) if probes is None else self._fingerprint_fn(probes)
        return (pred, list(states), num, den, tf.constant(0, tf.int32), noise_seed), fingerprint

    def _feed(self, pred, num, den, noise):
        """The frame fed back after `pred`, and the overlap-add sums shifted to the next frame.

        `noise` is this step's `[batch, frame_length]` dither draw (None: no dither).
        """
        fed = pred
        if self.overlapping:
            w = self._window
            num = num + w * pred
            den = den + self._norm_window
            fed = normalised(num, den, self.window)
            num = tf.pad(num[:, self.frame_hop :], [[0, 0], [0, self.frame_hop]])
            den = tf.pad(den[self.frame_hop :], [[0, self.frame_hop]])
        if noise is not None:
            fed = fed + self.dither * noise
        return fed, num, den

    def _draw_noise(self, noise_seed, first_step, steps, batch):
        """(dither `[steps, batch, frame_length]` or None, model noise `[steps, batch, noise_width]` or None)
        for global steps first_step .. first_step + steps - 1.

        Drawn outside the XLA loop (XLA's Philox differs from the CPU kernel's)
        with one seed per step, so chunking and XLA never change the noise.
        """
        def per_step(seed, width):
            return tf.map_fn(
                lambda s: tf.random.stateless_normal(tf.stack([batch, width]), seed=tf.stack([seed, s]), alg="philox"),
                first_step + tf.range(steps),
                fn_output_signature=tf.float32,
            )

        dither = per_step(noise_seed, self.frame_length) if self.dither > 0 else None
        model_noise = self.temperature * per_step(noise_seed + MODEL_NOISE_SEED_SALT, self.noise_width) if self.stochastic else None
        return dither, model_noise

    def _loop_fn(self, steps, pred, states, num, den, step, dither, model_noise):
        def noise_at(t):
            return None if model_noise is None else model_noise[t]

        outputs = tf.TensorArray(pred.dtype, size=steps, element_shape=pred.shape)
        outputs = outputs.write(0, pred)
        for t in tf.range(1, steps):
            fed, num, den = self._feed(pred, num, den, None if dither is None else dither[t - 1])
            pred, states = self.generator.step(fed, states, noise=noise_at(t - 1))
            states = list(states)
            outputs = outputs.write(t, pred)
        # Advance the carry past the last written frame so the next chunk continues seamlessly.
        fed, num, den = self._feed(pred, num, den, None if dither is None else dither[steps - 1])
        pred, states = self.generator.step(fed, states, noise=noise_at(steps - 1))
        return tf.transpose(outputs.stack(), [1, 0, 2]), pred, list(states), num, den, step + steps

    @property
    def foldable(self) -> bool:
        """Whether the loop can skip the `[frame_length]` round trip (`FrameGRU.feedback_unroll`)."""
        return not self.overlapping and self.generator.foldable

    def _fold_fn(self):
        return self.generator.fold_feedback(paired=True)

    def _fold_sources(self):
        return self.generator.trainable_weights

    def _fingerprint_fn(self, probes):
        """`probe_rows @ tensor @ probe_cols` for each weight: one read of each."""
        sums = []
        for tensor, (rows, cols) in zip(self._fold_sources(), probes):
            matrix = tf.reshape(tensor, [rows.shape[0], cols.shape[0]])
            sums.append(tf.tensordot(rows, tf.linalg.matvec(matrix, cols), 1))
        return tf.stack(sums)

    def _fingerprint_probes(self):
        if self._probes is None:
            rng = np.random.default_rng(0)
            shapes = [(t.shape[0], int(np.prod(t.shape[1:]))) for t in self._fold_sources()]
            self._probes = [tuple(tf.constant(rng.normal(size=n).astype(np.float32)) for n in shape) for shape in shapes]
        return self._probes

    def fold(self, fingerprint):
        """The folded weights for `run` (`FrameGRU.fold_feedback`), recomputed when the weights change.

        `fingerprint`: of the current weights, from `warm_up(..., fingerprint=True)`.
        Weights are recognised by random projections of the model's weights
        (one read of each, far cheaper than the fold's matrix product), so
        training or loading new weights refolds.
        """
        if not self.foldable:
            raise ValueError(UNFOLDABLE)
        fingerprint = np.asarray(fingerprint)
        if fingerprint.size != len(self._fold_sources()):
            raise ValueError("fold() needs the fingerprint of warm_up(..., fingerprint=True)")
        if self._folded is None or not np.array_equal(fingerprint, self._folded[0]):
            self._folded = (fingerprint, self._fold())
        return self._folded[1]

    def _folded_loop_fn(self, steps, pred, states, num, den, step, dither, model_noise, folded, paired=True):
        """The same rollout through `FrameGRU.feedback_unroll` (the head folded into the first layer).

        The first layer only ever sees (h W_head + b_head + dither) K + noise K'
        = h (W_head K) + b_head K + dither K + noise K', so each step costs a few
        `[units, units]` products whatever the frame length; the dither and
        noise projections and the frames come from one matrix product each over
        all steps. Folding itself costs a matrix product, so `rollout_frames`
        folds only rollouts longer than a few frames. `paired` (under XLA, at
        batch 1) multiplies each layer's output by its two kernels in one
        batched product (see `FrameGRU.feedback_unroll`); in graph mode without
        XLA, separate products are faster (measured) and are used.
        """
        g = self.generator
        added = layer_noise = None
        if dither is not None:
            added = self.dither * g.frame_projection(dither)  # [steps, batch, gates * units]
        if model_noise is not None:
            noise_projection, layer_noise = g.noise_parts(model_noise)  # each None where the model has none
            if noise_projection is not None:
                added = noise_projection if added is None else added + noise_projection
        projection = g.input_projection(pred)
        if added is not None:
            projection = projection + added[0]
        folded = folded if paired else folded._replace(pairs=None)
        hidden, states = g.feedback_unroll(projection, states, steps, folded, added=added, layer_noise=layer_noise)
        preds = g.head_projection(hidden)  # [steps, batch, frame_length]
        frames = tf.concat([pred[None], preds[:-1]], axis=0)
        return tf.transpose(frames, [1, 0, 2]), preds[-1], list(states), num, den, step + steps

    def _compiled(self, name: str, fn: Callable, *args):
        """`fn(*args)` as a `tf.function`, XLA-compiled while `jit_compile` holds (one per name and mode);
        falls back to plain graph mode for good when XLA cannot compile it."""
        if self.jit_compile:
            try:
                return self._function(name, fn, True)(*args)
            except tf.errors.OpError as err:  # XLA missing or unable to compile an op; a real error repeats below
                log.warning("XLA compilation of the generation loop failed (%s); using plain graph mode",
                            str(err).splitlines()[0])
                self.jit_compile = False
        return self._function(name, fn, False)(*args)

    def _function(self, name: str, fn: Callable, jit: bool):
        if (name, jit) not in self._functions:
            if name == "folded":
                fn = functools.partial(fn, paired=jit)
            self._functions[name, jit] = tf.function(fn, jit_compile=jit, reduce_retracing=False)
        return self._functions[name, jit]

    def warm_up(self, seed_frames, seed: int = 0, fingerprint: bool = False):
        """Runs the model over the seed; returns the carry for `run`, and with `fingerprint`
        (carry, the weights' fingerprint for `fold`)."""
        seed_frames = tf.convert_to_tensor(np.asarray(seed_frames, dtype=np.float32))
        if seed_frames.shape.rank != 3 or seed_frames.shape[-1] != self.frame_length:
            raise ValueError(f"seed frames must be [batch, seed_frames, {self.frame_length}], got {seed_frames.shape}")
        noise_seed = tf.constant(int(seed), tf.int32)
        noise = None
        if self.stochastic:
            noise = self._seed_noise(tf.shape(seed_frames)[0], tf.shape(seed_frames)[1], noise_seed)
        probes = self._fingerprint_probes() if fingerprint else None
        carry, weights_fingerprint = self._compiled("warm_up", self._warm_up_fn, seed_frames, noise_seed, noise, probes)
        return (carry, weights_fingerprint.numpy()) if fingerprint else carry

    def run(self, carry, steps: int, folded=None):
        """Generates `steps` frames from `carry`; returns (frames np `[batch, steps, F]`, carry).

        `folded`: the output of `fold()` to run the folded loop (needs `foldable`), or None.
        """
        frames, carry = self.run_tensor(carry, steps, folded)
        return frames.numpy(), carry

    def run_tensor(self, carry, steps: int, folded=None):
        """`run`, the frames left as a `tf.Tensor` (no copy out of TensorFlow)."""
        if steps < 1:
            raise ValueError(f"steps must be >= 1, got {steps}")
        if folded is not None and not self.foldable:
            raise ValueError(UNFOLDABLE)
        pred, states, num, den, step, noise_seed = carry
        dither, model_noise = None, None
        if self.dither > 0 or self.stochastic:
            dither, model_noise = self._noise(noise_seed, step, steps, tf.shape(pred)[0])
        args = (steps, pred, states, num, den, step, dither, model_noise) + ((folded,) if folded is not None else ())
        if folded is not None:
            out = self._compiled("folded", self._folded_loop_fn, *args)
        else:
            out = self._compiled("loop", self._loop_fn, *args)
        frames, pred, states, num, den, step = out
        return frames, (pred, states, num, den, step, noise_seed)


_ROLLOUTS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def get_rollout(generator, frame_hop: int, feedback: str = "stitched", window: str = "hann",
                dither: float = 0.0, jit_compile: bool = True, temperature: float = 1.0) -> Rollout:
    """A cached `Rollout` per generator and options (so compiled loops are reused)."""
    cache = _ROLLOUTS.setdefault(generator, {})
    key = (int(frame_hop), feedback, window, float(dither), bool(jit_compile), float(temperature))
    if key not in cache:
        cache[key] = Rollout(generator, frame_hop, feedback, window, dither, jit_compile, temperature)
    return cache[key]


def rollout_frames(generator, seed_frames, num_frames: int, frame_hop: int, feedback: str = "stitched",
                   window: str = "hann", dither: float = 0.0, seed: int = 0, jit_compile: bool = True,
                   chunk_frames: int | None = None, progress: Callable[[int], None] | None = None,
                   fold: bool | None = None, temperature: float = 1.0) -> np.ndarray:
    """Predicted frames after the seed (the seed itself is not returned).

    Args:
        seed_frames: `[batch, seed_frames, frame_length]` real frames, `frame_hop` apart.
        num_frames: frames to predict.
        chunk_frames: frames per compiled call (None: all at once); `progress`
            is called with the number of frames done after each chunk.
        fold: use the folded loop (see `Rollout._folded_loop_fn`); None:
            whenever possible for rollouts of `FOLD_MIN_FRAMES_PER_UNIT * units` frames or more.
        temperature: scale of the model's noise input (see `Rollout`).
    Returns:
        `[batch, num_frames, frame_length]` float32; frame 0 is the model's
        prediction of the frame that follows the seed.
    """
    return rollout_frame_tensor(generator, seed_frames, num_frames, frame_hop, feedback, window, dither, seed,
                                jit_compile, chunk_frames, progress, fold, temperature).numpy()


def rollout_frame_tensor(generator, seed_frames, num_frames: int, frame_hop: int, feedback: str = "stitched",
                         window: str = "hann", dither: float = 0.0, seed: int = 0, jit_compile: bool = True,
                         chunk_frames: int | None = None, progress: Callable[[int], None] | None = None,
                         fold: bool | None = None, temperature: float = 1.0) -> tf.Tensor:
    """`rollout_frames` as a `tf.Tensor` `[batch, num_frames, frame_length]`: `generate` stitches it in
    TensorFlow without the two copies of every frame (out to NumPy and back) that the array would cost."""
    roll = get_rollout(generator, frame_hop, feedback, window, dither, jit_compile, temperature)
    if fold is None:
        fold = roll.foldable and num_frames >= FOLD_MIN_FRAMES_PER_UNIT * generator.units
    if fold:
        carry, fingerprint = roll.warm_up(seed_frames, seed, fingerprint=True)
        folded = roll.fold(fingerprint)
    else:
        carry, folded = roll.warm_up(seed_frames, seed), None
    chunk = num_frames if not chunk_frames else min(int(chunk_frames), num_frames)
    pieces, done = [], 0
    while done < num_frames:
        # A fixed chunk size keeps one compiled loop; the last chunk's surplus is dropped.
        frames, carry = roll.run_tensor(carry, chunk, folded)
        pieces.append(frames if num_frames - done >= chunk else frames[:, : num_frames - done])
        done += pieces[-1].shape[1]
        if progress is not None:
            progress(done)
    return pieces[0] if len(pieces) == 1 else tf.concat(pieces, axis=1)


def generate(generator, seed_frames, num_samples: int | None = None, num_frames: int | None = None,
             frame_hop: int | None = None, stitch_method: str = "auto", window: str = "hann",
             crossfade_length: int = 256, dither: float = 0.0, feedback: str = "stitched", seed: int = 0,
             jit_compile: bool = True, chunk_frames: int | None = None,
             progress: Callable[[int, int], None] | None = None, revision=None, revision_window: int = 16,
             revision_hop: int = 8, temperature: float = 1.0) -> np.ndarray:
    """Generates audio after the seed: exactly `num_samples` samples (normalised units).

    Args:
        generator: a built FrameGRU.
        seed_frames: `[batch, seed_frames, frame_length]` real frames, `frame_hop` apart.
        num_samples: output length; or give `num_frames` to get the stitched
            length of that many predicted frames.
        frame_hop: hop between frames (None: frame_length).
        stitch_method: "auto", "concat", "overlap_add" or "crossfade".
        window, crossfade_length: stitching options.
        dither, feedback: anti-collapse options (see `Rollout`).
        seed: seed of the dither and of the model's noise input (same seed, same audio).
        temperature: scale of the model's noise input (0: the mean behaviour; see `Rollout`).
        progress: called as progress(frames_done, frames_total).
        revision: a revision network (advaudio.revision) applied to the rolled-out
            frames in overlapping windows of `revision_window` frames every
            `revision_hop` before stitching; None: the frames as rolled out.
    Returns:
        `[batch, num_samples]` float32; sample 0 is the first predicted sample
        (the first sample of the prediction that follows the seed). The seed
        is never mixed into the output: with overlapping frames, the first
        `frame_length - frame_hop` samples come from the first prediction alone
        (the "stitched" feedback does blend the seed into what it feeds back).
    """
    frame_length = int(generator.frame_length)
    hop = frame_length if frame_hop is None else int(frame_hop)
    method = resolve_method(stitch_method, frame_length, hop)
    if (num_samples is None) == (num_frames is None):
        raise ValueError("give exactly one of num_samples and num_frames")
    if num_frames is None:
        if num_samples < 1:
            raise ValueError(f"num_samples must be >= 1, got {num_samples}")
        num_frames = frames_needed(method, num_samples, frame_length, hop, crossfade_length)
    else:
        num_samples = stitched_length(method, num_frames, frame_length, hop, crossfade_length)
    frames = rollout_frame_tensor(
        generator, seed_frames, num_frames, hop, feedback=feedback, window=window, dither=dither, seed=seed,
        jit_compile=jit_compile, chunk_frames=chunk_frames, temperature=temperature,
        progress=None if progress is None else (lambda done: progress(done, num_frames)),
    )
    if revision is not None:
        from advaudio.revision import revise_frames  # lazy: revision imports this module

        frames = revise_frames(revision, frames.numpy(), revision_window, revision_hop)
    audio = stitch(frames, method, hop, window=window, crossfade_length=crossfade_length).numpy()
    return np.asarray(audio[:, :num_samples], dtype=np.float32)


# --------------------------------------------------------------------------- seeds


def seed_span(seed_frames: int, frame_length: int, frame_hop: int) -> int:
    """Samples of real audio covered by `seed_frames` frames."""
    return (seed_frames - 1) * frame_hop + frame_length


def choose_seed_positions(signal_length: int, count: int, span: int, seed: int) -> list[int]:
    """`count` reproducible start positions of `span`-sample seeds in a signal.

    Raises:
        ValueError: the signal is shorter than one seed.
    """
    if signal_length < span:
        raise ValueError(
            f"the seed needs {span} samples but the signal has {signal_length}; "
            "lower generate.seed_frames or use a longer split / file"
        )
    rng = np.random.default_rng(seed)
    return [int(p) for p in rng.integers(0, signal_length - span + 1, size=count)]


def seed_frames_at(signal: np.ndarray, positions: list[int], seed_frames: int, frame_length: int,
                   frame_hop: int) -> np.ndarray:
    """`[len(positions), seed_frames, frame_length]` frames of `signal`, `frame_hop` apart from each position."""
    offsets = np.arange(seed_frames)[:, None] * frame_hop + np.arange(frame_length)[None, :]
    return np.stack([signal[p + offsets] for p in positions]).astype(np.float32)


# --------------------------------------------------------------------------- writing


def to_pcm(audio: np.ndarray, subtype: str = "PCM_16") -> np.ndarray:
    """Float audio in [-1, 1] -> integer PCM: clips, never wraps.

    1.0 -> full scale (32767 for PCM_16), -1.0 -> -full scale, values beyond
    +-1 clip, and NaN or infinity is an error (a broken model must not be
    written as plausible audio). PCM_16 gives int16; PCM_24 gives int32
    holding 24-bit values (-8388607..8388607).

    Raises:
        ValueError: non-finite samples or an unknown subtype.
    """
    audio = np.asarray(audio, dtype=np.float64)
    if not np.all(np.isfinite(audio)):
        bad = int(np.size(audio) - np.count_nonzero(np.isfinite(audio)))
        raise ValueError(f"audio has {bad} NaN/infinite samples; refusing to write it")
    if subtype not in ("PCM_16", "PCM_24"):
        raise ValueError(f"to_pcm subtype must be PCM_16 or PCM_24, got {subtype!r}")
    full_scale = SUBTYPES[subtype]
    ints = np.round(np.clip(audio, -1.0, 1.0) * full_scale)
    return ints.astype(np.int16 if subtype == "PCM_16" else np.int32)


def normalize_loudness(audio: np.ndarray, loudness: str = "none") -> np.ndarray:
    """Scales audio to a peak of -1 dBFS ("peak") or an RMS of -20 dBFS ("rms").

    Off ("none") by default: normalising hides a collapse into silence. Silent
    audio is returned unchanged.
    """
    if loudness not in LOUDNESS:
        raise ValueError(f"generate.loudness must be one of {LOUDNESS}, got {loudness!r}")
    audio = np.asarray(audio, dtype=np.float32)
    if loudness == "none":
        return audio
    level = np.max(np.abs(audio)) if loudness == "peak" else np.sqrt(np.mean(np.square(audio, dtype=np.float64)))
    if not level > 0:
        return audio
    target = PEAK_TARGET if loudness == "peak" else RMS_TARGET
    return (audio * (target / level)).astype(np.float32)


def write_audio(path: str | Path, audio: np.ndarray, sample_rate: int, subtype: str = "PCM_16",
                loudness: str = "none") -> Path:
    """Writes mono float audio `[samples]` (full scale = 1.0) to WAV or FLAC.

    The format follows the suffix (.wav or .flac). PCM subtypes are converted
    here by `to_pcm` (clip, never wrap); FLOAT (WAV only) is written as
    float32 after the same finiteness check.
    """
    path = Path(path)
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise ValueError(f"audio files must end in .wav or .flac, got {path.name!r}")
    check_output_options(fmt, subtype, loudness)
    audio = normalize_loudness(np.asarray(audio, dtype=np.float32).reshape(-1), loudness)
    if subtype == "FLOAT":
        if not np.all(np.isfinite(audio)):
            raise ValueError("audio has NaN/infinite samples; refusing to write it")
        data = audio.astype(np.float32)
    else:
        data = to_pcm(audio, subtype)
        if subtype == "PCM_24":
            data = data << 8  # libsndfile reads int32 as full-scale 32-bit and keeps the top 24 bits
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), data, int(sample_rate), subtype=subtype, format=fmt.upper())
    return path


# --------------------------------------------------------------------------- runs


def load_stats(run_dir: str | Path):
    """The run's normalisation statistics (advaudio.data.Stats from stats.json)."""
    from advaudio.data import Stats  # lazy: generation never needs the data pipeline otherwise

    return Stats.load(Path(run_dir) / "stats.json")


def load_seed_file(path: str | Path, sample_rate: int, stats) -> np.ndarray:
    """A user's audio file as a normalised mono float32 signal at `sample_rate`.

    Decoded and resampled by the data layer's reader (same checks as training
    audio), then normalised with the run's statistics.
    """
    from advaudio.data import read_audio_file  # lazy: generation needs the data layer only for files

    return np.asarray(stats.normalize(read_audio_file(path, sample_rate)), dtype=np.float32)


def _seed_signal(seed_from: str, experiment, run_dir: Path, seed_signal: dict | None, stats) -> np.ndarray:
    if seed_from == "train":
        raise ValueError("generation never seeds from the train split; use valid, test or an audio file")
    if seed_from in SPLITS:
        if seed_signal is not None and seed_from in seed_signal:
            return np.asarray(seed_signal[seed_from], dtype=np.float32)
        from advaudio.data import prepare  # lazy: only the CLI path re-reads the data

        return np.asarray(getattr(prepare(experiment.data), seed_from).signal, dtype=np.float32)
    path = Path(seed_from)
    if not path.is_file():
        raise FileNotFoundError(f"generate.seed_from must be valid, test or an existing audio file, got {seed_from!r}")
    return load_seed_file(path, experiment.data.sample_rate, stats)


def check_output_options(fmt: str, subtype: str, loudness: str) -> None:
    """Fails before generating if files could not be written as configured (the one copy of these
    checks: `write_audio`, `generate_for_run` and `config.validate` call it).

    Raises:
        ValueError: naming the generate.* key, the value and the valid choices.
    """
    if fmt not in FORMATS:
        raise ValueError(f"generate.format={fmt!r} is not one of {FORMATS}")
    if subtype not in SUBTYPES:
        raise ValueError(f"generate.subtype={subtype!r} is not one of {tuple(SUBTYPES)}")
    if fmt == "flac" and subtype == "FLOAT":
        raise ValueError("generate.subtype='FLOAT' cannot be written as FLAC; use subtype PCM_16 or PCM_24, or format wav")
    if loudness not in LOUDNESS:
        raise ValueError(f"generate.loudness={loudness!r} is not one of {LOUDNESS}")


def generate_for_run(run_dir, experiment, generator, seed_signal: dict[str, np.ndarray] | None = None,
                     checkpoint_info: dict | None = None, out_dir=None, seconds: float | None = None,
                     count: int | None = None, stitch: str | None = None, seed_from: str | None = None,
                     stats=None, progress: Callable[[int, int], None] | None = None,
                     chunk_frames: int | None = None, reviser=None) -> list[Path]:
    """Generates `count` sequences for a run and writes them with sidecars and seeds.

    Args:
        run_dir: the run folder (its name and stats.json are used).
        experiment: the run's Experiment (config.json).
        generator: the FrameGRU to sample from.
        seed_signal: normalised 1-D signals by split ("valid", "test"); a
            missing split is read with `advaudio.data.prepare`.
        checkpoint_info: {"which", "epoch", "step", "path"} of the weights (see
            checkpoints.load_generator); recorded in the sidecars.
        out_dir: where to write (default run_dir/samples).
        seconds, count, stitch, seed_from: override `experiment.generate`.
        stats: normalisation statistics with normalize/denormalize (default:
            the run's stats.json).
        progress: called as progress(frames_done, frames_total).
        reviser: the revision network of `generate.revision` (None: loaded from
            the run folder when generate.revision is not "none").
    Returns:
        Paths of the written sample files, in order.
    """
    run_dir = Path(run_dir)
    gen = experiment.generate
    data = experiment.data
    seconds = gen.seconds if seconds is None else seconds
    count = gen.count if count is None else count
    method = resolve_method(gen.stitch if stitch is None else stitch, data.frame_length, config_lib.frame_hop(data))
    seed_from = gen.seed_from if seed_from is None else seed_from
    out_dir = run_dir / "samples" if out_dir is None else Path(out_dir)
    stats = load_stats(run_dir) if stats is None else stats
    hop = config_lib.frame_hop(data)
    num_samples = int(round(seconds * data.sample_rate))
    if num_samples < 1 or count < 1:
        raise ValueError(f"need seconds > 0 and count >= 1, got seconds={seconds}, count={count}")

    check_output_options(gen.format, gen.subtype, gen.loudness)
    signal = _seed_signal(seed_from, experiment, run_dir, seed_signal, stats)
    span = seed_span(gen.seed_frames, data.frame_length, hop)
    positions = choose_seed_positions(len(signal), count, span, gen.sample_seed)
    seeds = seed_frames_at(signal, positions, gen.seed_frames, data.frame_length, hop)
    revision_info = {"name": "none", "path": None}
    if gen.revision != "none":
        from advaudio import revision as revision_lib  # lazy: revision imports this module

        if reviser is None:
            reviser, revision_info = revision_lib.load_reviser(run_dir, experiment)
        else:
            revision_info = {"name": revision_lib.revision_name(gen.revision), "path": None}
    audio = generate(
        generator, seeds, num_samples=num_samples, frame_hop=hop, stitch_method=method, window=gen.window,
        crossfade_length=gen.crossfade_length, dither=gen.dither, feedback=gen.feedback, seed=gen.sample_seed,
        chunk_frames=chunk_frames, progress=progress, revision=None if gen.revision == "none" else reviser,
        revision_window=gen.revision_window, revision_hop=gen.revision_hop, temperature=gen.temperature,
    )
    info = dict(checkpoint_info or {})
    revision_checkpoint = revision_info["path"]
    if revision_checkpoint is not None and Path(revision_checkpoint).is_relative_to(run_dir):
        revision_checkpoint = str(Path(revision_checkpoint).relative_to(run_dir))
    checkpoint = info.get("path")
    if checkpoint is not None and Path(checkpoint).is_relative_to(run_dir):
        checkpoint = str(Path(checkpoint).relative_to(run_dir))  # the run folder may move
    split = seed_from if seed_from in SPLITS else "file"
    paths = []
    for i, position in enumerate(positions):
        name = f"sample_{i:03d}"
        path = write_audio(out_dir / f"{name}.{gen.format}", np.asarray(stats.denormalize(audio[i])),
                           data.sample_rate, gen.subtype, gen.loudness)
        write_audio(out_dir / "seeds" / f"{name}.{gen.format}",
                    np.asarray(stats.denormalize(signal[position : position + span])),
                    data.sample_rate, gen.subtype)
        sidecar = {
            "run": str(run_dir),
            "experiment": experiment.name,
            "checkpoint": checkpoint,
            "checkpoint_which": info.get("which"),
            "checkpoint_epoch": info.get("epoch"),
            "model_step": info.get("step"),
            "seed_split": split,
            "seed_file": None if split != "file" else str(seed_from),
            "seed_position": position,
            "seed_frames": gen.seed_frames,
            "stitch": method,
            "window": gen.window,
            "crossfade_length": gen.crossfade_length,
            "feedback": gen.feedback,
            "dither": gen.dither,
            "temperature": gen.temperature,
            "noise_dim": int(getattr(generator, "noise_dim", 0)),
            "layer_noise": bool(getattr(generator, "layer_noise", False)),
            "sample_seed": gen.sample_seed,
            "sample_rate": data.sample_rate,
            "samples": num_samples,
            "seconds": num_samples / data.sample_rate,
            "frame_length": data.frame_length,
            "frame_hop": hop,
            "subtype": gen.subtype,
            "loudness": gen.loudness,
            "revision": revision_info["name"],
            "revision_checkpoint": revision_checkpoint,
            "revision_window": None if gen.revision == "none" else gen.revision_window,
            "revision_hop": None if gen.revision == "none" else gen.revision_hop,
        }
        (out_dir / f"{name}.json").write_text(json.dumps(sidecar, indent=2) + "\n")
        paths.append(path)
    return paths
