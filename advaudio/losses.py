"""Loss functions on frames and waveforms, and the named loss terms objectives combine.

Pure functions carry their formula in the docstring; `LOSS_TERMS` maps a
namespaced term name (`rec/mse`, `spec/sc`, ...) to a factory that builds the
term from the experiment config.
"""
from __future__ import annotations

import functools

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from advaudio.registry import LOSS_TERMS
from advaudio.spectrum import stft_magnitude, stft_power


def mean_squared_error(y_true, y_pred):
    """mean((y_true - y_pred)^2) over every element."""
    return ops.mean(ops.square(y_true - y_pred))


def mean_absolute_error(y_true, y_pred):
    """mean(|y_true - y_pred|) over every element."""
    return ops.mean(ops.abs(y_true - y_pred))


@LOSS_TERMS.register("rec/mse")
def rec_mse_term(experiment):
    """MSE between predicted and target frames `[batch, steps, frame_length]`."""
    return lambda ctx: mean_squared_error(ctx.target_frames, ctx.pred_frames)


@LOSS_TERMS.register("rec/l1")
def rec_l1_term(experiment):
    """L1 between predicted and target frames."""
    return lambda ctx: mean_absolute_error(ctx.target_frames, ctx.pred_frames)


def shared_frame_error(y_true, y_pred):
    """The waveform all frames share, against the data's: `[batch, steps, frame_length]` each -> scalar.

        m_pred = mean over batch and steps of y_pred     [frame_length]
        m_true = the same of y_true
        value  = mean((m_pred - m_true)^2) / mean(y_true^2)

    The share of the frames' power in one waveform every frame repeats. Real
    frames at random positions share almost nothing (the data's own m_true
    is small; on the default data and a real track, 0.5-2% of the power); a
    generator that adds one fixed waveform to every frame (heard as a buzz
    and a pulse at the frame rate, read as frame repetition) scores that
    waveform's share. Only the first moment is matched, so the term does not
    pull individual frames towards the mean the way rec/mse does.
    """
    pred_mean = ops.mean(y_pred, axis=(0, 1))
    true_mean = ops.mean(y_true, axis=(0, 1))
    return ops.mean(ops.square(pred_mean - true_mean)) / (ops.mean(ops.square(y_true)) + _FRAME_POWER_EPS)


# Added to the powers the frame terms divide by or take logs of (rec/shared_frame, rec/position_power,
# rec/overlap), so that they stay finite on silent frames.
_FRAME_POWER_EPS = 1e-8


@LOSS_TERMS.register("rec/shared_frame")
def rec_shared_frame_term(experiment):
    """`shared_frame_error` of the predicted frames (the regime's: a free-running rollout's, when free running)."""
    return lambda ctx: shared_frame_error(ctx.target_frames, ctx.pred_frames)


def position_power_error(y_true, y_pred, bins: int):
    """How unlike the data's the frames' power is from place to place within a frame:
    `[batch, steps, frame_length]` each -> scalar.

        P[j]  = mean over batch, steps and the samples of bin j of y_pred^2    (the frame cut into `bins`
                equal bins; a remainder at the end is left out)
        Q[j]  = the same of y_true
        value = mean_j (log(P[j] / mean P) - log(Q[j] / mean Q))^2

    A frame model with a linear head makes every sample position's loudness a
    fixed function of the head's weights for that position, so its frames can
    be loud and quiet at the same places in every frame, whatever they contain:
    heard as a pulse at the frame rate, and as an onset at the same place of
    every frame. The data's frames start at positions the music does not know
    of, so their profile is flat (unless the beat is locked to the frame grid,
    which the target's own profile then carries). Scale-free: loudness is
    left to the other terms; only the shape of the profile is matched.
    """
    frame_length = y_pred.shape[-1]
    width = frame_length // bins

    def profile(frames):
        power = ops.mean(ops.square(frames[..., : bins * width]), axis=(0, 1))
        binned = ops.mean(ops.reshape(power, (bins, width)), axis=1) + _FRAME_POWER_EPS
        return ops.log(binned) - ops.log(ops.mean(binned))

    return ops.mean(ops.square(profile(y_pred) - profile(y_true)))


# rec/position_power's bins per frame (at most one per sample): 40 bins of 100 samples for frames of 4000, the
# resolution hop_pulse_db reads a pulse at (20 bins per hop of 2000).
POSITION_POWER_BINS = 40


@LOSS_TERMS.register("rec/position_power")
def rec_position_power_term(experiment):
    """`position_power_error` of the predicted frames (the regime's: a free-running rollout's, when free running)
    against the target frames, in min(`POSITION_POWER_BINS`, frame_length) bins."""
    bins = min(POSITION_POWER_BINS, experiment.data.frame_length)
    return lambda ctx: position_power_error(ctx.target_frames, ctx.pred_frames, bins)


def overlap_disagreement(y_pred, frame_hop: int):
    """How much consecutive frames disagree where they overlap: `[batch, steps, frame_length]` -> scalar.

        a = y_pred[:, :-1, frame_hop:]                    the end of frame t
        b = y_pred[:, 1:, :frame_length - frame_hop]      the start of frame t + 1 (the same samples)
        value = sum((a - b)^2) / sum(a^2 + b^2)

    0 when every frame starts with what the frame before it ended with, as in
    the data (its frames are cut from one signal, so the overlapping parts are
    equal); 1 when the two are uncorrelated; 2 when opposite. Scale-free, so
    it cannot be lowered by getting quieter. Overlapping frames that disagree
    are stitched into a cross-fade of two different signals, whose power dips
    halfway between frame centres (heard as a pulse at the frame rate; read
    by hop_pulse_db); no stitched-waveform term sees the disagreement itself.
    Needs at least two steps; frames that do not overlap have nothing to agree on.
    """
    frame_length = y_pred.shape[-1]
    overlap = frame_length - frame_hop
    end = y_pred[:, :-1, frame_hop:]
    start = y_pred[:, 1:, :overlap]
    return ops.sum(ops.square(end - start)) / (ops.sum(ops.square(end) + ops.square(start)) + _FRAME_POWER_EPS)


OVERLAP_TERM = "rec/overlap"


def check_overlap_config(experiment) -> list[str]:
    """Problems of a config that weights rec/overlap: the frames must overlap."""
    from advaudio.config import frame_hop  # lazy: config loads experiment files that import this module

    data = experiment.data
    if OVERLAP_TERM not in experiment.objective.loss_weights:
        return []
    if frame_hop(data) >= data.frame_length:
        return [
            f"objective.loss_weights has {OVERLAP_TERM!r}, which asks consecutive frames to agree where they "
            f"overlap, but data.frame_hop={data.frame_hop} with data.frame_length={data.frame_length} means the "
            f"frames do not overlap; set data.frame_hop below data.frame_length (e.g. --set data.frame_hop="
            f"{max(1, data.frame_length // 2)}) or remove {OVERLAP_TERM!r}"
        ]
    objective = experiment.objective
    if objective.regime == "free_running" and objective.free_run_steps < 2:
        return [
            f"objective.loss_weights has {OVERLAP_TERM!r}, which compares consecutive generated frames, but "
            f"objective.free_run_steps={objective.free_run_steps} unrolls one; set objective.free_run_steps >= 2 "
            f"or remove {OVERLAP_TERM!r}"
        ]
    return []


def rec_overlap_term(experiment):
    """`overlap_disagreement` of the predicted frames (the regime's: a free-running rollout's, when free running)."""
    hop = experiment.data.frame_hop
    return lambda ctx: overlap_disagreement(ctx.pred_frames, hop)


LOSS_TERMS.register(OVERLAP_TERM, rec_overlap_term, check=check_overlap_config)


PERIODICITY_TERM = "rec/hop_periodicity"


def hop_periodicity_share(audio, frame_hop: int):
    """Each sequence's share of its power in the waveform its hops repeat: `[batch, samples]` -> `[batch]`.

        h_k   = audio[:, k * frame_hop : (k + 1) * frame_hop]     the K whole hops
        m     = mean_k h_k
        share = sum(m^2) / mean_k sum(h_k^2)

    1 when every hop is the same waveform, ~1/K for noise, lower for steady
    tones whose frequency is off the grid of sample_rate / frame_hop (their
    phase turns from hop to hop). `metrics.hop_periodicity` is the same
    measure in windows of `metrics.PERIODICITY_HOPS` hops.
    """
    hops = tf.shape(audio)[-1] // frame_hop
    h = tf.reshape(audio[:, : hops * frame_hop], tf.stack([tf.shape(audio)[0], hops, frame_hop]))
    mean = tf.reduce_mean(h, axis=1)
    power = tf.reduce_mean(tf.reduce_sum(tf.square(h), axis=-1), axis=1)
    return tf.reduce_sum(tf.square(mean), axis=-1) / (power + _FRAME_POWER_EPS)


def hop_periodicity_excess(y_true, y_pred, frame_hop: int):
    """How much more of the output's power than of the data's repeats every hop: `[batch, samples]` each ->
    scalar, max(0, mean share(y_pred) - mean share(y_true)) over the batch (`hop_periodicity_share`).

    A frame model fed its own output finds a frame that continues itself the
    easiest: tones on the grid of sample_rate / frame_hop Hz (8 Hz at 16 kHz
    and a hop of 2000) need no phase carried from frame to frame. Its 30 s
    generations put 30-84% of their power there (in windows of 8 hops) where
    the data puts 5-19%, and every strong partial sits on a multiple of 8 Hz:
    the pitch is off, a comb fills the valleys between the data's partials and
    the frames pulse. The magnitude spectrograms of the spec/* terms cannot
    tell 120 Hz from 123.5 Hz at their resolutions; this term prices the grid
    itself, and only the output's excess over the data's (a tone on the grid
    by chance is the data's to keep). Scale-free.
    """
    excess = tf.reduce_mean(hop_periodicity_share(y_pred, frame_hop)) - tf.reduce_mean(
        hop_periodicity_share(y_true, frame_hop))
    return tf.nn.relu(excess)


def check_periodicity_config(experiment) -> list[str]:
    """Problems of a config that weights rec/hop_periodicity: the stitched sequences must span two hops."""
    from advaudio.config import frame_hop  # lazy: config loads experiment files that import this module

    if PERIODICITY_TERM not in experiment.objective.loss_weights:
        return []
    data = experiment.data
    hop = frame_hop(data)
    steps, samples = _stitched_sequence(experiment)
    if samples < 2 * hop:
        return [
            f"objective.loss_weights has {PERIODICITY_TERM!r}, which compares the hops of {hop} samples of a "
            f"stitched sequence, but the sequences it sees are {samples} samples ({steps} frames of "
            f"{data.frame_length}); use more frames (objective.free_run_steps / data.sequence_length) or remove "
            f"{PERIODICITY_TERM!r}"
        ]
    return []


def rec_hop_periodicity_term(experiment):
    """`hop_periodicity_excess` of the stitched predicted waveforms over the target's (the regime's frames)."""
    from advaudio.config import frame_hop  # lazy, as above

    hop = frame_hop(experiment.data)
    return lambda ctx: hop_periodicity_excess(ctx.target_audio, ctx.pred_audio, hop)


LOSS_TERMS.register(PERIODICITY_TERM, rec_hop_periodicity_term, check=check_periodicity_config)


# --------------------------------------------------------------------------
# Multi-resolution STFT loss (Parallel WaveGAN, Yamamoto et al. 2020).
# --------------------------------------------------------------------------

DEFAULT_FFT_SIZES = (1024, 2048, 512)
DEFAULT_HOP_LENGTHS = (120, 240, 50)
DEFAULT_WIN_LENGTHS = (600, 1200, 240)
SPECTRAL_COMPONENTS = ("sc", "logmag", "linmag", "mel")


@functools.lru_cache(maxsize=None)
def mel_filterbank(sample_rate: int, fft_size: int, n_mels: int, fmin: float, fmax: float | None) -> np.ndarray:
    """librosa's Slaney mel filterbank `[fft_size // 2 + 1, n_mels]` (transposed for `mag @ fb`)."""
    import librosa  # imported lazily: librosa's import is slow and only the mel term needs it

    bank = librosa.filters.mel(sr=sample_rate, n_fft=fft_size, n_mels=n_mels, fmin=fmin, fmax=fmax)
    return np.ascontiguousarray(bank.T.astype(np.float32))


def check_resolutions(fft_sizes, hop_lengths, win_lengths, samples: int | None = None) -> None:
    """Raises ValueError for inconsistent resolutions or ones longer than `samples`."""
    if not (len(fft_sizes) == len(hop_lengths) == len(win_lengths)) or not fft_sizes:
        raise ValueError(
            "objective.stft needs fft_sizes, hop_lengths and win_lengths of the same non-zero length, got "
            f"{list(fft_sizes)}, {list(hop_lengths)}, {list(win_lengths)}"
        )
    for fft_size, hop_length, win_length in zip(fft_sizes, hop_lengths, win_lengths):
        if not 0 < win_length <= fft_size or hop_length <= 0:
            raise ValueError(
                f"each resolution needs 0 < win_length <= fft_size and hop_length > 0, got "
                f"(fft_size={fft_size}, hop_length={hop_length}, win_length={win_length})"
            )
    longest = max(fft_sizes)
    if samples is not None and longest > samples:
        raise ValueError(
            f"MR-STFT resolution fft_size={longest} is longer than the stitched segment of {samples} "
            "samples it is applied to. Lower the fft sizes (e.g. --set objective.stft="
            "\"{'fft_sizes': (512, 256, 128), 'hop_lengths': (60, 30, 12), 'win_lengths': (300, 150, 60)}\") "
            "or lengthen the segment (raise data.sequence_length or data.frame_length, "
            "objective.stft.segment_frames, or objective.free_run_steps when training free-running)."
        )


def _safe_sqrt(squared):
    """sqrt of a sum of squares whose gradient at 0 is 0 (not NaN), value unchanged."""
    positive = squared > 0.0
    return tf.where(positive, tf.sqrt(tf.where(positive, squared, 1.0)), 0.0)


# The batch's spectrograms are computed and reduced a few sequences at a time, at most this many
# samples of each waveform per group (at least one sequence). The sums the terms need add up over
# groups, so the value is the same; XLA runs the groups' FFTs and reductions side by side on the
# CPU's cores, which is faster than one batch-wide chain of FFTs, and holds the spectrograms of the
# groups in flight at once, which costs memory and compile time. Spectral training step on the
# default shapes (16 sequences of 200,000 samples), 2-core CPU, benchmarks/spectral_memory.py:
# whole batch 1037 ms, 2.39 GB peak; 4 sequences per group (this value) 961 ms, 2.77 GB; one
# sequence per group 839 ms, 4.40 GB. Sequences of 16,000 samples (the GAN experiments' segments)
# fit a batch of 50 in one group. Per experiment: objective.stft.chunk_samples.
CHUNK_SAMPLES = 800_000


def batch_chunks(batch: int | None, samples: int | None, chunk_samples: int | None) -> list[tuple[int, int]]:
    """`[(start, stop), ...]` groups of whole sequences of at most `chunk_samples` samples each
    (at least one sequence); one group `(0, None)` when the shapes are unknown or chunk_samples is None."""
    if batch is None or samples is None or chunk_samples is None:
        return [(0, None)]
    per_chunk = max(1, chunk_samples // max(1, samples))
    return [(start, min(start + per_chunk, batch)) for start in range(0, batch, per_chunk)]


def _as_batch_of_waveforms(audio):
    audio = tf.convert_to_tensor(audio, dtype=tf.float32)
    if audio.shape.rank == 3:
        if audio.shape[-1] != 1:
            raise ValueError(f"expected waveforms [batch, samples] or [batch, samples, 1], got {audio.shape}")
        audio = audio[..., 0]
    if audio.shape.rank != 2:
        raise ValueError(f"expected waveforms [batch, samples] or [batch, samples, 1], got {audio.shape}")
    return audio


def multi_resolution_stft_components(
    y_true,
    y_pred,
    fft_sizes=DEFAULT_FFT_SIZES,
    hop_lengths=DEFAULT_HOP_LENGTHS,
    win_lengths=DEFAULT_WIN_LENGTHS,
    resolution_weights=None,
    components=("sc", "logmag"),
    sample_rate: int = 16000,
    n_mels: int = 80,
    fmin: float = 0.0,
    fmax: float | None = None,
    power_floor: float = 1e-7,
    log_epsilon: float = 0.0,
    chunk_samples: int | None = CHUNK_SAMPLES,
) -> dict:
    """The MR-STFT loss terms, each averaged over the resolutions.

    With S_r = stft_magnitude(y_true) and Ŝ_r = stft_magnitude(y_pred) at
    resolution r of R, per-resolution weights w_r (default 1) and eps = log_epsilon:
        sc     = 1/R sum_r w_r ||S_r - Ŝ_r||_F / ||S_r||_F   (norms over the whole batch)
        logmag = 1/R sum_r w_r mean |log(S_r + eps) - log(Ŝ_r + eps)|
        linmag = 1/R sum_r w_r mean |S_r - Ŝ_r|
        mel    = 1/R sum_r w_r mean |log(M_r + eps) - log(M̂_r + eps)|,
                 M_r = max(S_r F_r, sqrt(power_floor)), F_r librosa's mel filterbank.

    Args:
        y_true, y_pred: waveforms `[batch, samples]` or `[batch, samples, 1]`.
        fft_sizes, hop_lengths, win_lengths: one entry per resolution.
        resolution_weights: one weight per resolution (None: all 1).
        components: which of "sc", "logmag", "linmag", "mel" to compute.
        sample_rate, n_mels, fmin, fmax: the mel filterbank (only for "mel").
        power_floor: floor of re^2 + im^2 before the square root.
        log_epsilon: added to magnitudes inside the logs.
        chunk_samples: spectrograms are computed for groups of whole sequences of at
            most this many samples (`CHUNK_SAMPLES`; None: the whole batch at once).
            The value does not depend on it (up to float rounding); the speed does.
    Returns:
        `{component: scalar}` for each requested component.
    """
    unknown = set(components) - set(SPECTRAL_COMPONENTS)
    if unknown:
        raise ValueError(f"unknown MR-STFT components {sorted(unknown)}; valid: {SPECTRAL_COMPONENTS}")
    y_true = _as_batch_of_waveforms(y_true)
    y_pred = _as_batch_of_waveforms(y_pred)
    check_resolutions(fft_sizes, hop_lengths, win_lengths, y_pred.shape[-1])
    weights = [1.0] * len(fft_sizes) if resolution_weights is None else [float(w) for w in resolution_weights]
    if len(weights) != len(fft_sizes):
        raise ValueError(f"resolution_weights needs one weight per resolution ({len(fft_sizes)}), got {weights}")
    magnitude_floor = float(np.sqrt(power_floor))
    chunks = batch_chunks(y_pred.shape[0], y_pred.shape[-1], chunk_samples)
    totals = {name: 0.0 for name in components}
    for fft_size, hop_length, win_length, weight in zip(fft_sizes, hop_lengths, win_lengths, weights):
        sums = {name: 0.0 for name in ("sq_diff", "sq_target", "logmag", "linmag", "mel")}
        count = mel_count = 0.0
        if "mel" in totals:
            bank = tf.constant(mel_filterbank(int(sample_rate), fft_size, int(n_mels), float(fmin), fmax))
        for start, stop in chunks:
            # The target is data: no gradient flows into it, so none is computed.
            target = tf.stop_gradient(stft_magnitude(y_true[start:stop], fft_size, hop_length, win_length, power_floor))
            pred = stft_magnitude(y_pred[start:stop], fft_size, hop_length, win_length, power_floor)
            count += tf.cast(tf.size(pred), tf.float32)
            if "sc" in totals:
                sums["sq_diff"] += tf.reduce_sum(tf.square(target - pred))
                sums["sq_target"] += tf.reduce_sum(tf.square(target))
            if "logmag" in totals:
                # log a - log b as log(a / b): one logarithm per bin instead of two (same value).
                sums["logmag"] += tf.reduce_sum(tf.abs(tf.math.log((target + log_epsilon) / (pred + log_epsilon))))
            if "linmag" in totals:
                sums["linmag"] += tf.reduce_sum(tf.abs(target - pred))
            if "mel" in totals:
                mel_target = tf.maximum(tf.matmul(target, bank), magnitude_floor)
                mel_pred = tf.maximum(tf.matmul(pred, bank), magnitude_floor)
                sums["mel"] += tf.reduce_sum(
                    tf.abs(tf.math.log((mel_target + log_epsilon) / (mel_pred + log_epsilon)))
                )
                mel_count += tf.cast(tf.size(mel_pred), tf.float32)
        scale = weight / len(fft_sizes)
        if "sc" in totals:
            totals["sc"] += scale * _safe_sqrt(sums["sq_diff"]) / _safe_sqrt(sums["sq_target"])
        for name in ("logmag", "linmag"):
            if name in totals:
                totals[name] += scale * sums[name] / count
        if "mel" in totals:
            totals["mel"] += scale * sums["mel"] / mel_count
    return totals


@keras.saving.register_keras_serializable(package="advaudio")
class MultiResolutionSTFTLoss(keras.losses.Loss):
    """Multi-resolution STFT loss on waveforms: weighted sum of its components.

    loss = sc_weight * sc + logmag_weight * logmag + linmag_weight * linmag + mel_weight * mel,
    with the components of `multi_resolution_stft_components` (formulas there).

    Args:
        fft_sizes, hop_lengths, win_lengths: one entry per resolution; the
            defaults are Parallel WaveGAN's (1024, 120, 600), (2048, 240, 1200),
            (512, 50, 240).
        resolution_weights: one weight per resolution (None: all 1).
        sc_weight, logmag_weight, linmag_weight, mel_weight: component weights
            (a zero weight skips the component).
        sample_rate, n_mels, fmin, fmax: the mel filterbank.
        power_floor: floor of re^2 + im^2 before the square root (1e-7).
        log_epsilon: added to magnitudes inside the logs (0).
        chunk_samples: sequences per group of spectrograms, in samples
            (`CHUNK_SAMPLES`; None: the whole batch at once): speed and memory, not the value.
        **kwargs: forwarded to `keras.losses.Loss` (name, reduction, dtype).

    Shapes:
        y_true, y_pred: `[batch, samples]` or `[batch, samples, 1]`, samples >=
        the largest fft_size. Returns a scalar (the norms span the whole batch).

    Example:
        >>> loss = MultiResolutionSTFTLoss()
        >>> value = loss(audio, generated)  # [16, 32000] each -> scalar

    Reference: Yamamoto et al., "Parallel WaveGAN", ICASSP 2020, eq. 4-6.
    """

    def __init__(
        self,
        fft_sizes=DEFAULT_FFT_SIZES,
        hop_lengths=DEFAULT_HOP_LENGTHS,
        win_lengths=DEFAULT_WIN_LENGTHS,
        resolution_weights=None,
        sc_weight: float = 1.0,
        logmag_weight: float = 1.0,
        linmag_weight: float = 0.0,
        mel_weight: float = 0.0,
        sample_rate: int = 16000,
        n_mels: int = 80,
        fmin: float = 0.0,
        fmax: float | None = None,
        power_floor: float = 1e-7,
        log_epsilon: float = 0.0,
        chunk_samples: int | None = CHUNK_SAMPLES,
        name: str = "multi_resolution_stft",
        **kwargs,
    ):
        super().__init__(name=name, **kwargs)
        check_resolutions(fft_sizes, hop_lengths, win_lengths)
        self.fft_sizes = tuple(int(v) for v in fft_sizes)
        self.hop_lengths = tuple(int(v) for v in hop_lengths)
        self.win_lengths = tuple(int(v) for v in win_lengths)
        self.resolution_weights = None if resolution_weights is None else tuple(float(w) for w in resolution_weights)
        self.sc_weight = sc_weight
        self.logmag_weight = logmag_weight
        self.linmag_weight = linmag_weight
        self.mel_weight = mel_weight
        self.sample_rate = sample_rate
        self.n_mels = n_mels
        self.fmin = fmin
        self.fmax = fmax
        self.power_floor = power_floor
        self.log_epsilon = log_epsilon
        self.chunk_samples = chunk_samples

    def _component_weights(self) -> dict:
        weights = {"sc": self.sc_weight, "logmag": self.logmag_weight, "linmag": self.linmag_weight, "mel": self.mel_weight}
        return {name: w for name, w in weights.items() if w}

    def options(self) -> dict:
        """The resolution and magnitude options: every argument but the component weights."""
        return dict(
            fft_sizes=self.fft_sizes,
            hop_lengths=self.hop_lengths,
            win_lengths=self.win_lengths,
            resolution_weights=self.resolution_weights,
            sample_rate=self.sample_rate,
            n_mels=self.n_mels,
            fmin=self.fmin,
            fmax=self.fmax,
            power_floor=self.power_floor,
            log_epsilon=self.log_epsilon,
            chunk_samples=self.chunk_samples,
        )

    def components(self, y_true, y_pred, names=None, training: bool = False) -> dict:
        """`{component: scalar}` for `names` (default: every component with a non-zero weight).

        The spec/* training terms call this with training=True: the gradient of
        sum_c weight_c * component_c is computed with the values in one XLA
        program (`weighted_stft_components`). Otherwise one XLA-compiled forward
        pass (`multi_resolution_stft_components`), differentiable as usual.
        Both give the values and gradients of `multi_resolution_stft_components`.
        """
        names = tuple(self._component_weights() if names is None else names)
        options_key = tuple(sorted(self.options().items()))
        if training:
            weights = tuple(float(getattr(self, f"{name}_weight")) for name in names)
            return weighted_stft_components(y_true, y_pred, options_key, names, weights)
        return _compiled_components(options_key, names)(y_true, y_pred)

    def call(self, y_true, y_pred):
        weights = self._component_weights()
        values = self.components(y_true, y_pred)
        return tf.add_n([weights[name] * values[name] for name in weights])

    def get_config(self):
        config = super().get_config()
        config.update(
            fft_sizes=list(self.fft_sizes),
            hop_lengths=list(self.hop_lengths),
            win_lengths=list(self.win_lengths),
            resolution_weights=None if self.resolution_weights is None else list(self.resolution_weights),
            sc_weight=self.sc_weight,
            logmag_weight=self.logmag_weight,
            linmag_weight=self.linmag_weight,
            mel_weight=self.mel_weight,
            sample_rate=self.sample_rate,
            n_mels=self.n_mels,
            fmin=self.fmin,
            fmax=self.fmax,
            power_floor=self.power_floor,
            log_epsilon=self.log_epsilon,
            chunk_samples=self.chunk_samples,
        )
        return config


# --------------------------------------------------------------------------
# The spectral energy distance (Gritsenko et al., NeurIPS 2020).
# --------------------------------------------------------------------------

# Components of the energy's distance d: symmetric in their two arguments, as an energy distance
# needs (spectral convergence divides by the target's norm, so it is not a distance between samples).
ENERGY_COMPONENTS = ("linmag", "logmag", "mel")
DEFAULT_ENERGY_COMPONENTS = ("linmag", "logmag")


def spectral_energy_distance(
    y_true,
    y_pred_1,
    y_pred_2,
    fft_sizes=DEFAULT_FFT_SIZES,
    hop_lengths=DEFAULT_HOP_LENGTHS,
    win_lengths=DEFAULT_WIN_LENGTHS,
    resolution_weights=None,
    components=DEFAULT_ENERGY_COMPONENTS,
    sample_rate: int = 16000,
    n_mels: int = 80,
    fmin: float = 0.0,
    fmax: float | None = None,
    power_floor: float = 1e-7,
    log_epsilon: float = 0.0,
    chunk_samples: int | None = CHUNK_SAMPLES,
) -> dict:
    """The generalized energy distance on multi-resolution spectrograms, from one batch.

    With x = y_true and y1, y2 two generations for the same input drawn with
    independent noise:

        energy      = attractive - repulsive
        attractive  = d(x, y1) + d(x, y2)
        repulsive   = d(y1, y2)
        d(a, b)     = 1/R sum_r w_r [ mean |S_r(a) - S_r(b)|                         (linmag)
                                      + mean |log(S_r(a) + eps) - log(S_r(b) + eps)| ]  (logmag)

    S_r = `stft_magnitude` at resolution r of R, w_r the resolution weights
    (default 1), eps = log_epsilon, means over every (sequence, STFT frame,
    bin) of the batch; d is the MR-STFT distance of
    `multi_resolution_stft_components` with the components in `components`
    (default linmag + logmag, equally weighted; "mel" adds the log-mel term).
    Its expectation is 2 E d(x, y) - E d(y, y') (up to the constant E d(x, x'),
    which only the data sets): minimised by a model whose samples are
    distributed as the data's, while a model that returns one sample whatever
    its noise scores d(y, y') = 0 on the repulsive side, so the term rewards
    samples that differ (Gritsenko et al., 2020, eq. 4-5).

    Gritsenko et al. use d(a, b) = sum_k sum_t ||s_t^k(a) - s_t^k(b)||_1 +
    sqrt(k / 2) ||log s_t^k(a) - log s_t^k(b)||_2 over 64-bin mel spectrograms
    with window lengths k = 2^6 .. 2^11. This d keeps the package's
    resolutions (`objective.stft`) and its L1 log term; both are sums of norms
    of differences of spectrogram features, which is what makes the energy
    distance a proper scoring rule on those features.

    Args:
        y_true: the data `[batch, samples]` or `[batch, samples, 1]` (no gradient flows into it).
        y_pred_1, y_pred_2: two generations, the shape of y_true.
        components: the terms of d, from ENERGY_COMPONENTS.
        others: as `multi_resolution_stft_components`.
    Returns:
        `{"energy", "attractive", "repulsive"}`, scalars.
    """
    unknown = set(components) - set(ENERGY_COMPONENTS)
    if unknown or not components:
        raise ValueError(
            f"the spectral energy distance takes components from {ENERGY_COMPONENTS} (a distance must be "
            f"symmetric, which spectral convergence is not), got {tuple(components)}"
        )
    signals = [_as_batch_of_waveforms(a) for a in (y_true, y_pred_1, y_pred_2)]
    if not all(signals[0].shape.is_compatible_with(s.shape) for s in signals[1:]):
        raise ValueError(f"y_true, y_pred_1 and y_pred_2 must have one shape, got {[s.shape for s in signals]}")
    check_resolutions(fft_sizes, hop_lengths, win_lengths, signals[1].shape[-1])
    weights = [1.0] * len(fft_sizes) if resolution_weights is None else [float(w) for w in resolution_weights]
    if len(weights) != len(fft_sizes):
        raise ValueError(f"resolution_weights needs one weight per resolution ({len(fft_sizes)}), got {weights}")
    magnitude_floor = float(np.sqrt(power_floor))
    pairs = ((0, 1), (0, 2), (1, 2))  # (x, y1), (x, y2), (y1, y2)
    chunks = batch_chunks(signals[1].shape[0], signals[1].shape[-1], chunk_samples)
    distances = [0.0, 0.0, 0.0]
    for fft_size, hop_length, win_length, weight in zip(fft_sizes, hop_lengths, win_lengths, weights):
        sums = [{name: 0.0 for name in components} for _ in pairs]
        count = mel_count = 0.0
        if "mel" in components:
            bank = tf.constant(mel_filterbank(int(sample_rate), fft_size, int(n_mels), float(fmin), fmax))
        for start, stop in chunks:
            spectra = [stft_magnitude(s[start:stop], fft_size, hop_length, win_length, power_floor) for s in signals]
            spectra[0] = tf.stop_gradient(spectra[0])  # the data
            count += tf.cast(tf.size(spectra[1]), tf.float32)
            if "mel" in components:
                mels = [tf.maximum(tf.matmul(s, bank), magnitude_floor) for s in spectra]
                mel_count += tf.cast(tf.size(mels[1]), tf.float32)
            for pair_sums, (i, j) in zip(sums, pairs):
                if "linmag" in components:
                    pair_sums["linmag"] += tf.reduce_sum(tf.abs(spectra[i] - spectra[j]))
                if "logmag" in components:
                    ratio = (spectra[i] + log_epsilon) / (spectra[j] + log_epsilon)
                    pair_sums["logmag"] += tf.reduce_sum(tf.abs(tf.math.log(ratio)))
                if "mel" in components:
                    ratio = (mels[i] + log_epsilon) / (mels[j] + log_epsilon)
                    pair_sums["mel"] += tf.reduce_sum(tf.abs(tf.math.log(ratio)))
        scale = weight / len(fft_sizes)
        for index, pair_sums in enumerate(sums):
            for name, total in pair_sums.items():
                distances[index] += scale * total / (mel_count if name == "mel" else count)
    attractive = distances[0] + distances[1]
    return {"energy": attractive - distances[2], "attractive": attractive, "repulsive": distances[2]}


# --------------------------------------------------------------------------
# The spectral loss terms: spec/sc, spec/logmag, spec/linmag, spec/mel.
# --------------------------------------------------------------------------

# objective.stft keys: the resolution and magnitude options (term weights live in loss_weights).
STFT_OPTIONS = (
    "fft_sizes", "hop_lengths", "win_lengths", "resolution_weights",
    "sample_rate", "n_mels", "fmin", "fmax", "power_floor", "log_epsilon", "chunk_samples",
)


# objective.stft key read by the loss context, not the loss: the spec/* terms of a training step see
# the same random run of this many consecutive frames of each sequence, stitched (None: whole sequences).
SEGMENT_OPTION = "segment_frames"


def _whole_number_or_none(value) -> bool:
    """None or an int >= 1 (a bool is not a number of frames or samples)."""
    return value is None or (isinstance(value, int) and not isinstance(value, bool) and value >= 1)


def stft_segment_frames(experiment) -> int | None:
    """`objective.stft.segment_frames`, checked: None or a whole number of frames >= 1."""
    value = experiment.objective.stft.get(SEGMENT_OPTION)
    if not _whole_number_or_none(value):
        raise ValueError(
            f"objective.stft.{SEGMENT_OPTION} must be a whole number of frames >= 1, or None for whole "
            f"sequences; got {value!r}"
        )
    return value


def stft_options(experiment) -> dict:
    """The MR-STFT options of `experiment.objective.stft`, with the data's sample rate for mel.

    `objective.stft` takes `MultiResolutionSTFTLoss`'s arguments except the
    component weights (`sc_weight`, ...: refused, they are the spec/* weights in
    `objective.loss_weights`), plus `segment_frames` (read by `stft_segment_frames`).
    """
    options = {k: v for k, v in experiment.objective.stft.items() if k != SEGMENT_OPTION}
    misplaced = sorted(k for k in options if k.endswith("_weight") and k != "resolution_weights")
    if misplaced:
        raise ValueError(
            f"objective.stft sets {misplaced}; objective.stft takes MultiResolutionSTFTLoss's arguments except "
            "its component weights, which are the spec/* terms' weights in objective.loss_weights "
            "(e.g. {'spec/sc': 1.0, 'spec/logmag': 1.0})"
        )
    unknown = sorted(set(options) - set(STFT_OPTIONS))
    if unknown:
        raise ValueError(
            f"unknown objective.stft keys {unknown}; valid keys: {', '.join(STFT_OPTIONS + (SEGMENT_OPTION,))}"
        )
    chunk = options.get("chunk_samples", CHUNK_SAMPLES)
    if not _whole_number_or_none(chunk):
        raise ValueError(
            f"objective.stft.chunk_samples must be a whole number of samples >= 1 (sequences are grouped up "
            f"to this many samples; one sequence at least), or None for the whole batch at once; got {chunk!r}"
        )
    options.setdefault("sample_rate", experiment.data.sample_rate)
    for key in ("fft_sizes", "hop_lengths", "win_lengths", "resolution_weights"):
        if options.get(key) is not None:
            options[key] = tuple(options[key])
    return options


def stft_resolutions(options: dict) -> tuple:
    """(fft_sizes, hop_lengths, win_lengths) of `stft_options(...)`, Parallel WaveGAN's where unset."""
    return (
        options.get("fft_sizes", DEFAULT_FFT_SIZES),
        options.get("hop_lengths", DEFAULT_HOP_LENGTHS),
        options.get("win_lengths", DEFAULT_WIN_LENGTHS),
    )


@functools.lru_cache(maxsize=None)
def _compiled_components(options_key: tuple, components: tuple):
    """One XLA-compiled function per (options, components): frames, FFTs and reductions fuse."""
    options = dict(options_key)

    @tf.function(jit_compile=True)
    def compute(y_true, y_pred):
        return multi_resolution_stft_components(y_true, y_pred, components=components, **options)

    return compute


@functools.lru_cache(maxsize=None)
def _compiled_components_and_gradient(options_key: tuple, components: tuple, weights: tuple):
    """One XLA program: the components and the gradient of sum_c weights[c] * component_c w.r.t.
    y_pred `[batch, samples]`. The spectrograms never leave XLA, where a separate backward program
    needs them handed over from the forward one: on the default shapes the spectral training step's
    peak memory is 2.42 GB instead of 3.85 GB (whole batch at once; see CHUNK_SAMPLES)."""
    options = dict(options_key)

    @tf.function(jit_compile=True)
    def compute(y_true, y_pred):
        with tf.GradientTape() as tape:
            tape.watch(y_pred)
            values = multi_resolution_stft_components(y_true, y_pred, components=components, **options)
            total = tf.add_n([weight * values[name] for name, weight in zip(components, weights)])
        return values, tape.gradient(total, y_pred)

    return compute


# Upstream gradients within this relative tolerance of a multiple of the weights count as proportional.
PROPORTIONAL_RTOL = 1e-5


def _exact_gradient(y_true, y_pred, options_key: tuple, components: tuple, upstream: list):
    """Gradient of sum_c upstream[c] * component_c w.r.t. y_pred (forward again, then XLA's backward)."""
    with tf.GradientTape() as tape:
        tape.watch(y_pred)
        values = _compiled_components(options_key, components)(y_true, y_pred)
        total = tf.add_n([u * values[name] for name, u in zip(components, upstream)])
    return tape.gradient(total, y_pred)


def weighted_stft_components(y_true, y_pred, options_key: tuple, components: tuple, weights: tuple) -> dict:
    """`{component: scalar}` of the MR-STFT, differentiable w.r.t. y_pred, for training.

    The gradient of `sum_c weights[c] * component_c` (how every trainer combines
    the spec/* terms) is computed with the values in one XLA program. When the
    upstream gradients of the components are proportional to `weights` (any
    overall scale, e.g. 1 / replicas), the backward pass is that
    gradient times the scale; otherwise (a component used with another weight
    or alone) it is recomputed exactly. Either way it equals the gradient of
    `multi_resolution_stft_components`.

    Args:
        y_true, y_pred: `[batch, samples]` waveforms.
        options_key: sorted `(key, value)` MR-STFT options (see `stft_options`).
        components: names from SPECTRAL_COMPONENTS.
        weights: one float per component.
    """
    y_true = _as_batch_of_waveforms(y_true)
    weight_vector = tf.constant(weights, tf.float32)
    norm = float(sum(w * w for w in weights))

    @tf.custom_gradient
    def run(y_pred):
        values, weighted_grad = _compiled_components_and_gradient(options_key, components, weights)(y_true, y_pred)

        def grad(*upstream):
            def exact():
                return _exact_gradient(y_true, y_pred, options_key, components, list(upstream))

            if norm == 0.0:
                return exact()
            u = tf.stack(upstream)
            scale = tf.reduce_sum(u * weight_vector) / norm  # least-squares fit of u = scale * weights
            proportional = tf.reduce_all(tf.abs(u - scale * weight_vector) <= PROPORTIONAL_RTOL * tf.abs(scale * weight_vector))
            return tf.cond(proportional, lambda: scale * weighted_grad, exact)

        return [values[name] for name in components], grad

    return dict(zip(components, run(_as_batch_of_waveforms(y_pred))))


def stft_loss(experiment) -> MultiResolutionSTFTLoss:
    """The experiment's `MultiResolutionSTFTLoss`: options from `objective.stft`, each component's
    weight from `objective.loss_weights['spec/<component>']` (0 where unset)."""
    weights = experiment.objective.loss_weights
    return MultiResolutionSTFTLoss(
        **stft_options(experiment),
        **{f"{name}_weight": float(weights.get(f"spec/{name}", 0.0)) for name in SPECTRAL_COMPONENTS},
    )


def _spectral_term(component: str):
    def factory(experiment):
        loss = stft_loss(experiment)
        # Every spec/* term of the experiment comes from one pass over the spectrograms.
        requested = tuple(
            name for name in SPECTRAL_COMPONENTS if f"spec/{name}" in experiment.objective.loss_weights
        ) or (component,)
        segment = stft_segment_frames(experiment)
        key = ("spec", tuple(sorted(loss.options().items())), requested)

        def term(ctx):
            if key not in ctx.cache:
                ctx.cache[key] = loss.components(*ctx.segment_audio(segment), names=requested, training=ctx.training)
            return ctx.cache[key][component]

        term.loss = loss  # what the term computes with (inspectable)
        return term

    factory.__doc__ = (
        f"MR-STFT `{component}` of the stitched predicted vs target waveforms: `stft_loss(experiment).components`."
    )
    return factory


for _component in SPECTRAL_COMPONENTS:
    LOSS_TERMS.register(f"spec/{_component}", _spectral_term(_component))


# --------------------------------------------------------------------------
# spec/flux: attacks. The distribution of the onset-strength envelope's values.
# --------------------------------------------------------------------------

# The onset-strength envelope's spectrogram: librosa's `onset_strength` (2048-point FFT, 128 mel bands, dB floor
# 80 dB under the loudest bin) with a hop of 256 samples, as the onset metric (`metrics.onset_rate`) computes it.
FLUX_FFT_SIZE = 2048
FLUX_HOP_LENGTH = 256
FLUX_MELS = 128
FLUX_TOP_DB = 80.0
FLUX_AMIN = 1e-10  # librosa's power_to_db floor: keeps the log finite in digital silence
FLUX_TERM = "spec/flux"


def onset_strength(audio, sample_rate: int, fft_size: int = FLUX_FFT_SIZE, hop_length: int = FLUX_HOP_LENGTH,
                   n_mels: int = FLUX_MELS, top_db: float = FLUX_TOP_DB):
    """Spectral-flux onset strength, as librosa's `onset.onset_strength`: `[batch, samples]` -> `[batch, frames - 1]`.

        M[t, b] = 10 log10(max(mel power, max_{t,b} mel power * 10^(-top_db / 10), FLUX_AMIN))   (per
                                                                       sequence; the floor's max held constant)
        s[t]    = mean_b max(0, M[t + 1, b] - M[t, b])

    In dB, so the audio's gain does not matter; an attack is a rise of many
    bands at once (tens of dB on a drum hit), noise and steady tones only
    fluctuate (values of 0.3-2).
    """
    audio = _as_batch_of_waveforms(audio)
    bank = tf.constant(mel_filterbank(int(sample_rate), fft_size, int(n_mels), 0.0, None))
    mel = tf.matmul(stft_power(audio, fft_size, hop_length, fft_size), bank)  # [batch, frames, mels]
    floor = tf.stop_gradient(tf.reduce_max(mel, axis=(1, 2), keepdims=True)) * 10.0 ** (-top_db / 10.0)
    db = 10.0 * tf.math.log(tf.maximum(mel, tf.maximum(floor, FLUX_AMIN))) / np.log(10.0)
    return tf.reduce_mean(tf.nn.relu(db[:, 1:] - db[:, :-1]), axis=-1)


def sorted_distance(a, b):
    """1-D Wasserstein-1 distance between the values of `a` and `b` (any shapes, the same number of values):
    mean |sort(a) - sort(b)|. 0 when one is a permutation of the other; insensitive to where values occur."""
    a, b = tf.sort(tf.reshape(a, [-1])), tf.sort(tf.reshape(b, [-1]))
    return tf.reduce_mean(tf.abs(a - b))


def flux_distance(target_audio, pred_audio, sample_rate: int):
    """How unlike the data's the attacks are: the 1-D Wasserstein distance between the `onset_strength` values of
    all sequences of the target and of the prediction ([batch, samples] each -> scalar, in dB).

    A generator without attacks has an envelope that only fluctuates
    (values under 2 on machine_wars.mp3, whose drum hits reach 22; README,
    ninth session), and no stitched-waveform term asks for attacks at a place
    the data does not fix. The sorted comparison asks for the data's spread of
    rises, wherever they occur: the largest rises of the output are pulled to
    the sizes of the data's largest, its quiet rises to the data's quiet ones.
    Data without attacks (the default drone) asks for none.
    """
    return sorted_distance(onset_strength(target_audio, sample_rate), onset_strength(pred_audio, sample_rate))


def _stitched_sequence(experiment) -> tuple[int, int]:
    """(frames, samples) of the stitched sequences the regime's loss terms see: the free-running rollout's
    frames, else the whole sequence's, stitched with the experiment's method."""
    from advaudio.config import frame_hop  # lazy: config loads experiment files that import this module
    from advaudio.stitching import stitched_length

    data, objective, gen = experiment.data, experiment.objective, experiment.generate
    steps = objective.free_run_steps if objective.regime == "free_running" else data.sequence_length
    return steps, stitched_length(gen.stitch, steps, data.frame_length, frame_hop(data), gen.crossfade_length)


def _check_spectrogram_span(experiment, term: str, what: str, fft_size: int, hop_length: int) -> list[str]:
    """Problems of a config that weights `term`, a term on the stitched sequences' spectrogram frames of
    `fft_size` samples every `hop_length`: its sequences must span the first frame and two hops more."""
    if term not in experiment.objective.loss_weights:
        return []
    data = experiment.data
    steps, samples = _stitched_sequence(experiment)
    if samples < fft_size + 2 * hop_length:
        return [
            f"objective.loss_weights has {term!r}, which compares {what} spectrogram frames of "
            f"{fft_size} samples, hop {hop_length}, but the sequences it sees are {samples} samples "
            f"(data.frame_length={data.frame_length}, {steps} frames); use longer frames or more of them "
            f"(objective.free_run_steps / data.sequence_length) or remove {term!r}"
        ]
    return []


def check_flux_config(experiment) -> list[str]:
    """Problems of a config that weights spec/flux: its sequences must span a few envelope frames."""
    return _check_spectrogram_span(experiment, FLUX_TERM, "rises between", FLUX_FFT_SIZE, FLUX_HOP_LENGTH)


def spec_flux_term(experiment):
    """`flux_distance` of the stitched target and predicted waveforms (whole sequences: the regime's frames)."""
    sample_rate = experiment.data.sample_rate
    return lambda ctx: flux_distance(ctx.target_audio, ctx.pred_audio, sample_rate)


LOSS_TERMS.register(FLUX_TERM, spec_flux_term, check=check_flux_config)


# --------------------------------------------------------------------------
# spec/flatness: hiss. The distribution of the spectrogram frames' flatness.
# --------------------------------------------------------------------------

# The flatness metric's spectrogram (`metrics.spectral_flatness`: 2048-point Hann frames every 512 samples, not
# centred), with a floor FLATNESS_TOP_DB under each sequence's loudest bin, so that digital silence and bins far
# below the sound do not decide a frame's flatness.
FLATNESS_FFT_SIZE = 2048
FLATNESS_HOP_LENGTH = 512
FLATNESS_TOP_DB = 80.0
FLATNESS_AMIN = 1e-10  # absolute power floor: keeps the log finite in digital silence
FLATNESS_TERM = "spec/flatness"


def floored_power(audio, fft_size: int = FLATNESS_FFT_SIZE, hop_length: int = FLATNESS_HOP_LENGTH,
                  top_db: float = FLATNESS_TOP_DB):
    """The spectrogram power of the flatness metric's frames with a floor under each sequence's loudest bin:
    `[batch, samples]` -> `[batch, frames, bins]`.

        P'[t, f] = max(P[t, f], max_{t,f} P * 10^(-top_db / 10), FLATNESS_AMIN)   (per sequence; the floor's max
                                                                                 held constant)

    Hann frames of `fft_size` every `hop_length`, not centred (as `metrics.spectral_flatness`).
    """
    audio = _as_batch_of_waveforms(audio)
    power = stft_power(audio, fft_size, hop_length, fft_size, center=False)  # [batch, frames, bins]
    floor = tf.stop_gradient(tf.reduce_max(power, axis=(1, 2), keepdims=True)) * 10.0 ** (-top_db / 10.0)
    return tf.maximum(power, tf.maximum(floor, FLATNESS_AMIN))


def log_flatness(audio, fft_size: int = FLATNESS_FFT_SIZE, hop_length: int = FLATNESS_HOP_LENGTH,
                 top_db: float = FLATNESS_TOP_DB):
    """Log spectral flatness (Wiener entropy) of every spectrogram frame: `[batch, samples]` -> `[batch, frames]`.

        value[t] = mean_f log P'[t, f] - log mean_f P'[t, f]      (P': `floored_power`)

    i.e. the log of the geometric over the arithmetic mean of the frame's
    power spectrum (Hann window, not centred, as the flatness metric): 0 for a
    flat spectrum, about -0.58 for white noise, far below for a tone (about -7
    on the default drone, whose partials stand ~50 dB over its noise floor).
    Gain does not change it.
    """
    power = floored_power(audio, fft_size, hop_length, top_db)
    return tf.reduce_mean(tf.math.log(power), axis=-1) - tf.math.log(tf.reduce_mean(power, axis=-1))


def flatness_distance(target_audio, pred_audio):
    """How unlike the data's the hiss is: the 1-D Wasserstein distance between the `log_flatness` values of all
    sequences of the target and of the prediction (`[batch, samples]` each -> scalar, in nats).

    A broadband floor under a tonal sound raises every frame's flatness; the
    stochastic generator's hiss read 3-6x the default drone's flatness with
    the energy distance and the discriminator (README, issue 13), and no term
    asks for a tonal frame to be as clean as the data's: the MR-STFT
    distances weigh a floor 50 dB down like any other bin. Compared as sorted
    values, the output's frames are asked for the data's spread of
    tonality, wherever in the sequence the tonal and noisy frames fall.
    """
    return sorted_distance(log_flatness(target_audio), log_flatness(pred_audio))


def check_flatness_config(experiment) -> list[str]:
    """Problems of a config that weights spec/flatness: its sequences must span a few spectrogram frames."""
    return _check_spectrogram_span(experiment, FLATNESS_TERM, "the flatness of", FLATNESS_FFT_SIZE, FLATNESS_HOP_LENGTH)


def spec_flatness_term(experiment):
    """`flatness_distance` of the stitched target and predicted waveforms (whole sequences: the regime's frames)."""
    return lambda ctx: flatness_distance(ctx.target_audio, ctx.pred_audio)


LOSS_TERMS.register(FLATNESS_TERM, spec_flatness_term, check=check_flatness_config)


# --------------------------------------------------------------------------
# spec/bin_levels: energy between the partials. The distribution of every bin's level.
# --------------------------------------------------------------------------

BIN_LEVELS_TERM = "spec/bin_levels"


def bin_levels_distance(target_audio, pred_audio):
    """How unlike the data's each frequency's levels are: for every bin of the flatness metric's spectrogram, the
    1-D Wasserstein distance between its log power over all frames of all target sequences and over those of
    the prediction; the mean over bins (`[batch, samples]` each -> scalar, in nats of power; 1 nat = 4.34 dB).

        d = mean_f  mean_i | sort_i log P'_target[i, f] - sort_i log P'_pred[i, f] |   (i: every (sequence, frame))

    On the default drone every recipe's output filled the valleys between the
    data's partials and the band under its lowest one (README, twelfth
    session: +10 to +20 dB at 70-90 Hz and between partials; the MFCC means,
    coefficient 1 (tilt) most, made 82% of a Frechet distance 5-6x real
    audio's), while the long-term spectra agreed within 3.5 dB: the average level of a band was
    right, its distribution over frames was not. Compared as sorted values
    per bin, a frequency the data keeps at its floor asks for the floor in
    every frame, and one the data fills now and then (a drum's band) asks for
    that spread, wherever in the sequence the frames fall. Gain matters: a
    uniform gain of g shifts every level by log g^2.
    """
    return tf.reduce_mean(tf.abs(_sorted_levels_by_bin(target_audio) - _sorted_levels_by_bin(pred_audio)))


def _sorted_levels_by_bin(audio):
    """`[batch, samples]` -> `[bins, batch * frames]`: each bin's log `floored_power` over every frame, sorted."""
    levels = tf.math.log(floored_power(audio))  # [batch, frames, bins]
    return tf.sort(tf.reshape(tf.transpose(levels, [2, 0, 1]), [tf.shape(levels)[-1], -1]), axis=-1)


def check_bin_levels_config(experiment) -> list[str]:
    """Problems of a config that weights spec/bin_levels: its sequences must span a few spectrogram frames."""
    return _check_spectrogram_span(experiment, BIN_LEVELS_TERM, "the bin levels of", FLATNESS_FFT_SIZE,
                                   FLATNESS_HOP_LENGTH)


def spec_bin_levels_term(experiment):
    """`bin_levels_distance` of the stitched target and predicted waveforms (whole sequences: the regime's frames)."""
    return lambda ctx: bin_levels_distance(ctx.target_audio, ctx.pred_audio)


LOSS_TERMS.register(BIN_LEVELS_TERM, spec_bin_levels_term, check=check_bin_levels_config)


# --------------------------------------------------------------------------
# spec/energy: the spectral energy distance between the data and two generations.
# --------------------------------------------------------------------------

ENERGY_TERM = "spec/energy"


@functools.lru_cache(maxsize=None)
def _compiled_energy(options_key: tuple, components: tuple):
    """One XLA-compiled `spectral_energy_distance` per (options, components); differentiable as usual."""
    options = dict(options_key)

    @tf.function(jit_compile=True)
    def compute(y_true, y_pred_1, y_pred_2):
        return spectral_energy_distance(y_true, y_pred_1, y_pred_2, components=components, **options)

    return compute


def check_energy_config(experiment) -> list[str]:
    """Problems of a config that weights spec/energy: the term needs a stochastic generator."""
    if ENERGY_TERM not in experiment.objective.loss_weights or experiment.model.stochastic:
        return []
    return [
        f"objective.loss_weights has {ENERGY_TERM!r}, which compares two generations of one input drawn with "
        "independent noise, but model.noise_dim=0 (and no model.layer_noise) makes the generator deterministic (its two "
        f"generations are equal, so nothing repels them); set model.noise_dim > 0 (e.g. --set model.noise_dim=16) or "
        f"remove {ENERGY_TERM!r}"
    ]


def spec_energy_term(experiment):
    """`spectral_energy_distance` of the stitched target and two generations with independent noise.

    The trainer makes the second generation (same batch, same regime and
    random draws but the noise) when this term is weighted; the term reads them
    from `LossContext.segment_generations` (the same random run of frames as
    the other spec/* terms with `objective.stft.segment_frames`), and logs its
    parts as "energy/attractive" = d(x, y1) + d(x, y2) and "energy/repulsive" = d(y1, y2).
    Options: objective.stft (the MR-STFT's; d = linmag + logmag).
    """
    options = stft_options(experiment)
    check_resolutions(*stft_resolutions(options))
    segment = stft_segment_frames(experiment)
    compute = _compiled_energy(tuple(sorted(options.items())), DEFAULT_ENERGY_COMPONENTS)

    def term(ctx):
        values = compute(*ctx.segment_generations(segment))
        ctx.logs["energy/attractive"] = values["attractive"]
        ctx.logs["energy/repulsive"] = values["repulsive"]
        return values["energy"]

    return term


LOSS_TERMS.register(ENERGY_TERM, spec_energy_term, check=check_energy_config)

