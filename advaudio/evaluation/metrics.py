"""Objective metrics of generated audio against held-out real audio of the same data.

Each metric is a pure numpy/librosa function whose definition is in its
docstring; `evaluate_audio` scores one output and `evaluate_run` scores every
sample of a run folder. Nothing here imports training code.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
import scipy.fft
import soundfile as sf

# Parallel WaveGAN's multi-resolution STFT loss: (fft_size, hop_length, win_length).
PWG_RESOLUTIONS: tuple[tuple[int, int, int], ...] = ((1024, 120, 600), (2048, 240, 1200), (512, 50, 240))

# Below this RMS (about -80 dBFS) a frame or chunk counts as digital silence.
SILENCE_RMS = 1e-4
# Floor of every dBFS figure: 20 * log10(1e-6) = -120 dBFS.
RMS_FLOOR = 1e-6
_LOG_EPS = 1e-7  # Parallel WaveGAN's magnitude clamp in the log-magnitude term.
_POWER_EPS = 1e-12
MR_STFT_KEYS: tuple[str, ...] = ("mr_stft", "mr_stft_sc", "mr_stft_logmag")  # what `mr_stft_distance` returns

# Column order of the metric tables; `evaluate_audio` returns exactly these keys.
METRIC_KEYS: tuple[str, ...] = (
    "duration_s",
    "mr_stft",
    "mr_stft_sc",
    "mr_stft_logmag",
    "lsd_db",
    "flatness",
    "flatness_data",
    "flatness_ratio",
    "loudness_db",
    "loudness_data_db",
    "loudness_drop_db",
    "silence_onset_s",
    "seed_copy",
    "train_copy",
    "pitch_hz",
    "pitch_data_hz",
    "pitch_ratio",
    "onset_rate",
    "onset_rate_data",
    "onset_rate_ratio",
    "frechet_mfcc",
    "frechet_mfcc_inf",
    "kid_mfcc",
    "seam_ratio",
    "frame_repetition",
    "frame_repetition_data",
    "hop_pulse_db",
    "hop_pulse_data_db",
    "onset_locking",
    "onset_locking_data",
    "hop_periodicity",
    "hop_periodicity_data",
)


# ----------------------------------------------------------------------------- helpers


def _as_mono(audio: np.ndarray) -> np.ndarray:
    """[samples] or [samples, channels] -> float64 [samples]."""
    audio = np.asarray(audio, dtype=np.float64)
    if audio.ndim == 2:
        audio = audio.mean(axis=1)
    if audio.ndim != 1:
        raise ValueError(f"expected audio of shape [samples] or [samples, channels], got {audio.shape}")
    return audio


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or denominator is None or denominator == 0:
        return None
    return float(numerator) / float(denominator)


def rms(audio: np.ndarray) -> float:
    """Root mean square of `audio` [samples]; 0.0 for an empty signal."""
    audio = _as_mono(audio)
    return float(np.sqrt(np.mean(audio**2))) if audio.size else 0.0


def rms_db(audio: np.ndarray) -> float:
    """Loudness in dBFS: 20 * log10(max(RMS, 1e-6)).

    0 dBFS is the RMS of a full-scale square wave (1.0), so a full-scale sine
    reads -3.01 dBFS; silence reads the floor, -120 dBFS.
    """
    return float(20.0 * np.log10(max(rms(audio), RMS_FLOOR)))


def frame_signal(audio: np.ndarray, frame_length: int, hop_length: int) -> np.ndarray:
    """Cuts [samples] into [frames, frame_length] windows every `hop_length` samples.

    A signal shorter than one frame is zero-padded to one frame; a partial
    last frame is dropped.
    """
    audio = _as_mono(audio)
    if audio.size < frame_length:
        audio = np.pad(audio, (0, frame_length - audio.size))
    return np.lib.stride_tricks.sliding_window_view(audio, frame_length)[::hop_length]


def stft_magnitude(audio: np.ndarray, fft_size: int, hop_length: int, win_length: int) -> np.ndarray:
    """|STFT| of [samples] -> [frames, fft_size // 2 + 1], periodic Hann window of `win_length`.

    `advaudio.spectrum.stft_power` uncentred (frames as `frame_signal` cuts them), in float64.
    """
    if win_length > fft_size:
        raise ValueError(f"win_length {win_length} > fft_size {fft_size}")
    from advaudio import spectrum  # imported lazily: it imports TensorFlow, which most metrics never need

    audio = _as_mono(audio).astype(np.float64)
    if audio.size < win_length:  # as frame_signal: one zero-padded frame
        audio = np.pad(audio, (0, win_length - audio.size))
    power = spectrum.stft_power(audio[None], fft_size, hop_length, win_length, center=False)
    return np.sqrt(power.numpy()[0])


def average_spectrum(audio: np.ndarray, fft_size: int, hop_length: int, win_length: int) -> np.ndarray:
    """Long-term average magnitude spectrum: mean over frames of |STFT| -> [fft_size // 2 + 1]."""
    return stft_magnitude(audio, fft_size, hop_length, win_length).mean(axis=0)


# ----------------------------------------------------------------------------- spectral distances


def mr_stft_distance(
    generated: np.ndarray,
    reference: np.ndarray,
    resolutions: Iterable[tuple[int, int, int]] = PWG_RESOLUTIONS,
    aligned: bool = False,
    reference_means: list[np.ndarray] | None = None,
) -> dict[str, float]:
    """Multi-resolution STFT distance (Parallel WaveGAN, Yamamoto et al. 2020).

    For each resolution (fft_size, hop_length, win_length), with magnitudes
    S_ref and S_gen:

        sc     = ||S_ref - S_gen||_F / ||S_ref||_F            (spectral convergence)
        logmag = mean |log(max(S_ref, 1e-7)) - log(max(S_gen, 1e-7))|

    both averaged over the resolutions; `mr_stft = sc + logmag`.

    Generated audio is not sample-aligned with held-out audio, so by default
    (`aligned=False`) S is the long-term average magnitude spectrum (mean of
    |STFT| over frames) of each signal: the distance compares spectral
    envelopes, not waveforms. With `aligned=True` the full spectrograms are
    compared frame by frame over their common length (the training loss).
    `reference_means`: `mean_magnitude_spectra(reference, resolutions)`, to skip recomputing them (not aligned).

    Returns:
        {"mr_stft", "mr_stft_sc", "mr_stft_logmag"}; 0 for a copy, sc = 1 for silence
        against any non-silent reference.
    """
    if aligned:
        pairs = []
        for fft_size, hop_length, win_length in resolutions:
            s_gen = stft_magnitude(generated, fft_size, hop_length, win_length)
            s_ref = stft_magnitude(reference, fft_size, hop_length, win_length)
            frames = min(len(s_gen), len(s_ref))
            pairs.append((s_gen[:frames], s_ref[:frames]))
    else:
        refs = reference_means if reference_means is not None else mean_magnitude_spectra(reference, resolutions)
        pairs = list(zip(mean_magnitude_spectra(generated, resolutions), refs))
    scs, logmags = [], []
    for s_gen, s_ref in pairs:
        scs.append(np.linalg.norm(s_ref - s_gen) / max(np.linalg.norm(s_ref), _POWER_EPS))
        logmags.append(np.mean(np.abs(np.log(np.maximum(s_ref, _LOG_EPS)) - np.log(np.maximum(s_gen, _LOG_EPS)))))
    sc, logmag = float(np.mean(scs)), float(np.mean(logmags))
    return dict(zip(MR_STFT_KEYS, (sc + logmag, sc, logmag)))


def mean_magnitude_spectra(
    audio: np.ndarray, resolutions: Iterable[tuple[int, int, int]] = PWG_RESOLUTIONS
) -> list[np.ndarray]:
    """The long-term average magnitude spectrum (mean of |STFT| over frames) at each (fft_size, hop_length,
    win_length) resolution -> one [fft_size // 2 + 1] array per resolution."""
    return [stft_magnitude(audio, fft, hop, win).mean(axis=0) for fft, hop, win in resolutions]


def log_spectral_distance(
    generated: np.ndarray, reference: np.ndarray, fft_size: int = 2048, hop_length: int = 512,
    reference_power: np.ndarray | None = None,
) -> float:
    """Log-spectral distance in dB between long-term average power spectra.

        P(f)  = mean over frames of |STFT(f)|^2    (Hann window of fft_size)
        LSD   = sqrt(mean_f (10 * log10((P_ref(f) + e) / (P_gen(f) + e)))^2),  e = 1e-12

    Not sample-aligned (average spectra). A copy scores 0; a copy scaled by
    gain g scores |20 * log10(g)| dB. `reference_power`: `average_power_spectrum(reference, fft_size,
    hop_length)`, to skip recomputing it.
    """
    p_gen = average_power_spectrum(generated, fft_size, hop_length)
    p_ref = reference_power if reference_power is not None else average_power_spectrum(reference, fft_size, hop_length)
    diff = 10.0 * np.log10((p_ref + _POWER_EPS) / (p_gen + _POWER_EPS))
    return float(np.sqrt(np.mean(diff**2)))


def average_power_spectrum(audio: np.ndarray, fft_size: int = 2048, hop_length: int = 512) -> np.ndarray:
    """Mean over frames of |STFT|^2 -> [fft_size // 2 + 1]."""
    return (stft_magnitude(audio, fft_size, hop_length, fft_size) ** 2).mean(axis=0)


# ----------------------------------------------------------------------------- noisiness


def spectral_flatness(audio: np.ndarray, fft_size: int = 2048, hop_length: int = 512) -> float | None:
    """Mean spectral flatness (Wiener entropy) over non-silent frames.

    Per frame, with power spectrum P(f) = |STFT(f)|^2 (Hann window):

        flatness = exp(mean_f log(P(f) + 1e-12)) / mean_f (P(f) + 1e-12)

    i.e. geometric over arithmetic mean: about exp(-0.5772) = 0.56 for white
    noise (exponentially distributed periodogram bins), near 0 for a tone.
    Frames with RMS below 1e-4 (about -80 dBFS) are ignored; None when all are.
    """
    frames = frame_signal(audio, fft_size, hop_length)
    loud = np.sqrt(np.mean(frames**2, axis=1)) >= SILENCE_RMS
    if not loud.any():
        return None
    power = stft_magnitude(audio, fft_size, hop_length, fft_size)[loud] ** 2 + _POWER_EPS
    flatness = np.exp(np.mean(np.log(power), axis=1)) / np.mean(power, axis=1)
    return float(np.mean(flatness))


# ----------------------------------------------------------------------------- collapse


def loudness_curve(
    audio: np.ndarray, sample_rate: int, window_seconds: float = 0.1
) -> tuple[np.ndarray, np.ndarray]:
    """Loudness over time: RMS dBFS (see `rms_db`) of consecutive non-overlapping windows.

    Returns:
        (start times in seconds [windows], loudness in dBFS [windows]); the
        last window may be partial.
    """
    audio = _as_mono(audio)
    window = max(1, int(round(window_seconds * sample_rate)))
    starts = np.arange(0, max(audio.size, 1), window)
    loudness = np.array([rms_db(audio[s : s + window]) for s in starts])
    return starts / sample_rate, loudness


def loudness_drop(audio: np.ndarray, fraction: float = 0.25) -> float:
    """How much the output fades: rms_db(first `fraction`) - rms_db(last `fraction`), in dB.

    Positive when the end is quieter than the start (20 dB for a tenfold drop
    in amplitude), about 0 for steady output.
    """
    audio = _as_mono(audio)
    part = max(1, int(audio.size * fraction))
    return rms_db(audio[:part]) - rms_db(audio[-part:])


def silence_onset(
    audio: np.ndarray,
    sample_rate: int,
    reference_db: float,
    threshold_db: float = -40.0,
    window_seconds: float = 0.1,
    min_silence_seconds: float = 0.5,
) -> float | None:
    """The time (s) from which the output stays silent to the end, or None.

    A window of the loudness curve (`loudness_curve`, `window_seconds`) is
    silent when it is below `reference_db + threshold_db`, where
    `reference_db` is the data's loudness (`rms_db` of the real audio). The
    onset is the start of the first window after which every window is
    silent, provided that silent tail lasts at least `min_silence_seconds`
    (so a short fade at the very end is not a collapse). All-silent output
    returns 0.0.
    """
    times, loudness = loudness_curve(audio, sample_rate, window_seconds)
    silent = loudness < reference_db + threshold_db
    if not silent[-1]:
        return None
    loud_indices = np.flatnonzero(~silent)
    first_silent = 0 if loud_indices.size == 0 else int(loud_indices[-1]) + 1
    onset = float(times[first_silent])
    duration = _as_mono(audio).size / sample_rate
    if first_silent > 0 and duration - onset < min_silence_seconds:
        return None
    return onset


# ----------------------------------------------------------------------------- copying


def max_normalized_xcorr(
    query: np.ndarray,
    source: np.ndarray,
    chunk_length: int,
    max_fft_points: int = 2**25,
) -> float | None:
    """Highest normalised cross-correlation of any chunk of `query` with `source` at any lag.

    `query` is cut into non-overlapping chunks q of N = min(`chunk_length`,
    len(source) // 2) samples, silent chunks skipped, so a copy of a short
    seed anywhere in `query` holds a whole chunk. Each chunk costs one FFT of
    about len(source) + N points; when all chunks would cost more than
    `max_fft_points`, an evenly spread subset is used (30 s of output against
    60 s of training audio at 16 kHz: 34 of the 60 chunks, a few seconds).
    For each chunk and every lag j at which it lies fully inside `source`:

        ncc(j) = |sum_n q[n] * source[j + n]| / (||q|| * ||source[j : j + N]||)

    (cosine similarity, no mean removal; the absolute value counts a
    polarity-inverted copy as a copy), computed for all lags at once with an
    FFT. Returns the maximum over chunks and lags: 1.0 when some chunk is an
    exact (scaled) copy of part of `source`, about sqrt(2 ln L / N) for
    unrelated noise (L lags, N = chunk_length). Source windows quieter than
    -80 dBFS are ignored. None when every chunk of `query` is silent.
    """
    query, source = _as_mono(query), _as_mono(source)
    # Chunks of at most half the source: a copy of the whole source at any
    # offset then holds at least one whole chunk.
    chunk_length = int(min(chunk_length, query.size, max(1, source.size // 2)))
    if chunk_length < 1:
        return None
    starts = np.arange(0, query.size - chunk_length + 1, chunk_length)
    chunks = [query[s : s + chunk_length] for s in starts]
    chunks = [c for c in chunks if np.sqrt(np.mean(c**2)) >= SILENCE_RMS]
    if not chunks:
        return None
    lags = source.size - chunk_length + 1
    nfft = scipy.fft.next_fast_len(source.size + chunk_length - 1, real=True)
    max_chunks = max(1, max_fft_points // nfft)
    if len(chunks) > max_chunks:
        keep = np.linspace(0, len(chunks) - 1, max_chunks).round().astype(int)
        chunks = [chunks[i] for i in keep]
    source_spectrum = scipy.fft.rfft(source, nfft)
    cumulative = np.concatenate([[0.0], np.cumsum(source**2)])
    window_energy = cumulative[chunk_length:] - cumulative[:-chunk_length]
    quiet = window_energy < SILENCE_RMS**2 * chunk_length
    window_norm = np.sqrt(np.maximum(window_energy, _POWER_EPS))
    best = 0.0
    for chunk in chunks:
        spectrum = scipy.fft.rfft(chunk, nfft)
        correlation = scipy.fft.irfft(source_spectrum * np.conj(spectrum), nfft)[:lags]
        ncc = np.abs(correlation) / (np.linalg.norm(chunk) * window_norm)
        ncc[quiet] = 0.0
        best = max(best, float(ncc.max()))
    return min(best, 1.0)


# ----------------------------------------------------------------------------- speed and rhythm


def dominant_frequency(
    audio: np.ndarray, sample_rate: int, fft_size: int = 8192, min_frequency: float = 30.0
) -> float | None:
    """Dominant pitch in Hz: the highest peak of the long-term average spectrum.

    The peak of `average_spectrum` (Hann window of `fft_size`, hop
    fft_size / 4) above `min_frequency`, refined by parabolic interpolation
    of the log magnitude. Playing audio k times too fast multiplies it by k.
    None for silence.
    """
    audio = _as_mono(audio)
    if rms(audio) < SILENCE_RMS:
        return None
    fft_size = int(min(fft_size, 2 ** int(np.floor(np.log2(max(audio.size, 2))))))
    spectrum = average_spectrum(audio, fft_size, fft_size // 4, fft_size)
    low = max(1, int(np.ceil(min_frequency * fft_size / sample_rate)))
    peak = low + int(np.argmax(spectrum[low:-1])) if spectrum.size - 1 > low else int(np.argmax(spectrum))
    offset = 0.0
    if 0 < peak < spectrum.size - 1:
        a, b, c = np.log(np.maximum(spectrum[peak - 1 : peak + 2], _LOG_EPS))
        denominator = a - 2 * b + c
        offset = 0.5 * (a - c) / denominator if denominator != 0 else 0.0
    return float((peak + offset) * sample_rate / fft_size)


# An onset is a peak of the onset-strength envelope at least this far above the envelope's mean around it, in
# librosa's onset-strength units: the mean over mel bands of the rise in dB from one detector frame to the next
# (negative rises count 0). Absolute, so audio without attacks has no onsets; in dB, so the audio's gain does not
# matter. librosa's default instead rescales each signal's envelope to its own maximum, which turns the small
# rises of attack-free audio into onsets: white noise reads 1.4 onsets/s that way and 0.03 with this threshold;
# 30 s of a generator trained on machine_wars.mp3, 7.3-8.6 (2.9-3.4x the music's) that way and 0.03-0.17 with it,
# its envelope peaking at 2 units where the music's reaches 22 (README, ninth session). On real music this counts
# 0.8-1.3x what the rescaled detector counts (asc-music's three tracks, three 30 s excerpts each; a threshold of 1.0
# would lose a soft track's onsets: 0.4x).
ONSET_DELTA = 0.5
# Data with fewer onsets per second than this has no rhythm to match: `onset_rate_ratio` is then undefined (the
# default data, a drone, has about 0.03) instead of a ratio of two counts of almost nothing.
ONSET_MIN_DATA_RATE = 0.25


def onset_rate(
    audio: np.ndarray, sample_rate: int, hop_length: int = 256, min_gap_seconds: float = 0.04
) -> float:
    """Onsets per second: peaks of librosa's spectral-flux onset-strength envelope that stand `ONSET_DELTA` above
    their neighbourhood on an absolute scale.

    `librosa.onset.onset_detect` (peak picking on the envelope, `hop_length`
    samples per frame, onsets at least `min_gap_seconds` apart so one attack
    spread over two frames counts once), without its per-signal rescaling, so
    noise and attack-free audio have (almost) no onsets; counted over the
    whole signal and divided by its duration. Silent audio (RMS below
    -80 dBFS) has no onsets: 0.0. An attack at the very first sample is not
    detected.
    """
    audio = _as_mono(audio)
    onsets = _onsets(audio, sample_rate, hop_length, min_gap_seconds, absolute=True)
    return 0.0 if onsets is None else float(len(onsets) / (audio.size / sample_rate))


def onset_rate_ratio(rate: float | None, data_rate: float | None) -> float | None:
    """`rate` / `data_rate` (onsets per second of an output and of the data); None when the data has fewer than
    `ONSET_MIN_DATA_RATE` onsets per second (no rhythm to compare with) or either is undefined."""
    if data_rate is None or data_rate < ONSET_MIN_DATA_RATE:
        return None
    return _ratio(rate, data_rate)


def onset_envelope(audio: np.ndarray, sample_rate: int, hop_length: int) -> np.ndarray:
    """librosa's spectral-flux onset strength of mono `audio`, one value per `hop_length` samples [frames]."""
    import librosa

    return librosa.onset.onset_strength(y=audio.astype(np.float32), sr=sample_rate, hop_length=hop_length)


def _onsets(
    audio: np.ndarray, sample_rate: int, hop_length: int, min_gap_seconds: float, absolute: bool,
    envelope: np.ndarray | None = None,
) -> np.ndarray | None:
    """Onset positions in samples (at the start of their detector frame; `librosa.onset.onset_detect`, onsets at
    least `min_gap_seconds` apart) of mono `audio`; None when it is empty or silent (RMS below -80 dBFS).
    `absolute`: peaks `ONSET_DELTA` above their neighbourhood in onset-strength units; otherwise librosa's default,
    the envelope rescaled to its own maximum (every signal's largest rises count, attacks or not).
    `envelope`: `onset_envelope(audio, sample_rate, hop_length)`, when the caller has it already."""
    import librosa

    if audio.size == 0 or rms(audio) < SILENCE_RMS:
        return None
    wait = int(np.ceil(min_gap_seconds * sample_rate / hop_length))
    if envelope is None:
        envelope = onset_envelope(audio, sample_rate, hop_length)
    if not absolute:
        return librosa.onset.onset_detect(onset_envelope=envelope, sr=sample_rate, hop_length=hop_length, wait=wait,
                                          units="samples")
    return librosa.onset.onset_detect(onset_envelope=envelope, sr=sample_rate, hop_length=hop_length, wait=wait,
                                      normalize=False, delta=ONSET_DELTA, units="samples")


# ----------------------------------------------------------------------------- Frechet distance


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """Frechet distance between Gaussians N(mu1, sigma1) and N(mu2, sigma2).

        d^2 = ||mu1 - mu2||^2 + Tr(sigma1 + sigma2 - 2 (sigma1 sigma2)^(1/2))

    with Tr((sigma1 sigma2)^(1/2)) = sum sqrt(eig(sigma1^(1/2) sigma2 sigma1^(1/2)))
    (symmetric, so stable). Returns d^2, as FID does; 0 for equal statistics.
    """
    mu1, mu2 = np.atleast_1d(mu1), np.atleast_1d(mu2)
    sigma1, sigma2 = np.atleast_2d(sigma1), np.atleast_2d(sigma2)
    values, vectors = np.linalg.eigh(sigma1)
    sqrt_sigma1 = (vectors * np.sqrt(np.maximum(values, 0.0))) @ vectors.T
    middle = sqrt_sigma1 @ sigma2 @ sqrt_sigma1
    trace_sqrt = np.sum(np.sqrt(np.maximum(np.linalg.eigvalsh((middle + middle.T) / 2), 0.0)))
    distance = np.sum((mu1 - mu2) ** 2) + np.trace(sigma1) + np.trace(sigma2) - 2.0 * trace_sqrt
    return float(max(distance, 0.0))


def mfcc_segment_features(
    audio: np.ndarray,
    sample_rate: int,
    n_segments: int = 32,
    segment_seconds: float = 0.5,
    n_mfcc: int = 20,
    hop_length: int = 512,
) -> np.ndarray:
    """MFCC frames of `n_segments` evenly spaced segments -> [frames, n_mfcc - 1].

    Segments of `segment_seconds` start at evenly spaced positions from the
    first to the last possible sample (they overlap when the audio is short),
    so every signal gives the same number of frames. The 0th coefficient
    (energy) is dropped.
    """
    mfcc = _segment_mfcc(audio, sample_rate, n_segments, segment_seconds, n_mfcc, hop_length)
    # [segments, n_mfcc, frames] -> [segments * frames, n_mfcc - 1]
    return np.transpose(mfcc[:, 1:, :], (0, 2, 1)).reshape(-1, n_mfcc - 1).astype(np.float64)


def _segment_mfcc(
    audio: np.ndarray, sample_rate: int, n_segments: int, segment_seconds: float, n_mfcc: int, hop_length: int
) -> np.ndarray:
    """MFCCs of `n_segments` evenly spaced segments -> [segments, n_mfcc, frames] (see `mfcc_segment_features`)."""
    import librosa

    audio = _as_mono(audio).astype(np.float32)
    segment = int(min(round(segment_seconds * sample_rate), audio.size))
    if segment < 1:
        raise ValueError("cannot compute MFCC features of empty audio")
    starts = np.linspace(0, audio.size - segment, n_segments).round().astype(int)
    batch = np.stack([audio[s : s + segment] for s in starts])
    n_fft = int(min(2048, 2 ** int(np.floor(np.log2(segment)))))
    return librosa.feature.mfcc(y=batch, sr=sample_rate, n_mfcc=n_mfcc, n_fft=n_fft, hop_length=hop_length)


def mfcc_delta_features(
    audio: np.ndarray,
    sample_rate: int,
    n_segments: int = 32,
    segment_seconds: float = 0.5,
    n_mfcc: int = 20,
    hop_length: int = 512,
) -> np.ndarray | None:
    """MFCC frames with their central differences -> [frames, 2 * (n_mfcc - 1)], or None.

    The segments and coefficients of `mfcc_segment_features` (c0 dropped);
    each frame t inside a segment (not its first or last) becomes
    [c_t, c_{t+1} - c_{t-1}]. The difference gives the features a direction
    in time: playing audio backwards negates it, so the joint statistics of
    (c, delta) of reversed audio differ from the original's wherever attacks
    and decays differ (drums), which frame statistics alone cannot see.
    None when a segment holds fewer than 3 MFCC frames.
    """
    mfcc = _segment_mfcc(audio, sample_rate, n_segments, segment_seconds, n_mfcc, hop_length)[:, 1:, :]
    if mfcc.shape[-1] < 3:
        return None
    stacked = np.concatenate([mfcc[:, :, 1:-1], mfcc[:, :, 2:] - mfcc[:, :, :-2]], axis=1)
    # [segments, 2 * (n_mfcc - 1), frames] -> [segments * frames, 2 * (n_mfcc - 1)]
    return np.transpose(stacked, (0, 2, 1)).reshape(-1, stacked.shape[1]).astype(np.float64)


def _loudness_matched(generated: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """`generated` scaled to the RMS of `reference` (unchanged when either is silent)."""
    generated = _as_mono(generated)
    generated_rms, reference_rms = rms(generated), rms(reference)
    if generated_rms >= SILENCE_RMS and reference_rms >= SILENCE_RMS:
        generated = generated * (reference_rms / generated_rms)
    return generated


def mfcc_statistics(
    audio: np.ndarray, sample_rate: int, n_segments: int = 32, segment_seconds: float = 0.5
) -> tuple[np.ndarray, np.ndarray]:
    """Mean [n_mfcc - 1] and covariance [n_mfcc - 1, n_mfcc - 1] of `mfcc_segment_features(audio)`."""
    features = mfcc_segment_features(audio, sample_rate, n_segments, segment_seconds)
    return features.mean(axis=0), np.cov(features, rowvar=False)


def frechet_mfcc_distance(
    generated: np.ndarray,
    reference: np.ndarray,
    sample_rate: int,
    n_segments: int = 32,
    segment_seconds: float = 0.5,
    reference_statistics: tuple[np.ndarray, np.ndarray] | None = None,
) -> float:
    """Frechet distance between MFCC statistics of generated and real segments.

    The generated audio is first scaled to the reference's RMS (loudness
    matching), then both are cut into `n_segments` segments
    (`mfcc_segment_features`, 20 MFCCs without the energy coefficient c0);
    mean and covariance of the frames give the Gaussians of
    `frechet_distance`. Gain alone leaves it (almost) unchanged; a copy
    scores 0. Without matching, a figure mostly measures loudness.
    `reference_statistics`: `mfcc_statistics(reference, ...)` with the same
    segments, when the caller has them already (`ReferenceProfile`).
    """
    generated = _loudness_matched(generated, reference)
    if reference_statistics is None:
        reference_statistics = mfcc_statistics(reference, sample_rate, n_segments, segment_seconds)
    return frechet_distance(
        *mfcc_statistics(generated, sample_rate, n_segments, segment_seconds), *reference_statistics
    )


# Bias correction of the Frechet distance (FAD-infinity, Gui et al. 2023; FID-infinity, Chong & Forsyth 2020):
# the distance at FRECHET_INF_SIZES subset sizes from a quarter to all of the generated frames, each the mean
# over FRECHET_INF_REPEATS random subsets, extrapolated linearly in 1/N to N = infinity.
FRECHET_INF_SIZES = 5
FRECHET_INF_REPEATS = 4
FRECHET_INF_SEED = 0
# KID's polynomial kernel k(x, y) = (x . y / d + 1) ** KID_DEGREE (Binkowski et al. 2018).
KID_DEGREE = 3
# Per-coefficient standard deviations below this are treated as this (a constant feature).
FEATURE_STD_FLOOR = 1e-8
MFCC_DISTRIBUTION_KEYS: tuple[str, ...] = ("frechet_mfcc_inf", "kid_mfcc")  # what `mfcc_distribution_distances` returns


def frechet_distance_extrapolated(
    features_x: np.ndarray,
    features_y: np.ndarray,
    sizes: int = FRECHET_INF_SIZES,
    repeats: int = FRECHET_INF_REPEATS,
    seed: int = FRECHET_INF_SEED,
) -> float:
    """Frechet distance with its small-sample bias removed by extrapolation (FAD-infinity).

    The plug-in Frechet distance of N samples exceeds the true distance by a
    bias that falls as 1/N (Chong & Forsyth 2020). With subsets of N_i rows of
    `features_x` [n, d] drawn without replacement (N_i evenly spaced from
    max(d + 1, n // 4) to n; `repeats` subsets per size, a fixed `seed`),
    against all of `features_y` [m, d]:

        FD(N_i) ~ FD_inf + k / N_i      (least squares over the sizes)

    and the result is the intercept FD_inf. It estimates the distance an
    infinite sample would give and can come out slightly below 0 when the two
    distributions are the same. With fewer than 2 distinct sizes (tiny n) the
    plain distance is returned.
    """
    features_x, features_y = np.asarray(features_x, dtype=np.float64), np.asarray(features_y, dtype=np.float64)
    n, d = features_x.shape
    mu_y, sigma_y = features_y.mean(axis=0), np.cov(features_y, rowvar=False)

    def distance(rows: np.ndarray) -> float:
        return frechet_distance(rows.mean(axis=0), np.cov(rows, rowvar=False), mu_y, sigma_y)

    counts = np.unique(np.linspace(min(max(d + 1, n // 4), n), n, sizes).astype(int))
    if counts.size < 2:
        return distance(features_x)
    rng = np.random.default_rng(seed)
    values = [
        np.mean([distance(features_x[rng.choice(n, count, replace=False)]) for _ in range(repeats if count < n else 1)])
        for count in counts
    ]
    _, intercept = np.polyfit(1.0 / counts, values, 1)
    return float(intercept)


def kernel_distance(features_x: np.ndarray, features_y: np.ndarray, degree: int = KID_DEGREE) -> float:
    """Kernel distance (KID, Binkowski et al. 2018): the unbiased estimate of MMD^2.

    With the polynomial kernel k(a, b) = (a . b / d + 1) ** degree on
    `features_x` [n, d] and `features_y` [m, d]:

        MMD^2 = sum_{i != j} k(x_i, x_j) / (n (n - 1)) + sum_{i != j} k(y_i, y_j) / (m (m - 1))
                - 2 sum_{i, j} k(x_i, y_j) / (n m)

    Unbiased: its expectation is the population MMD^2 at any sample size (0
    for the same distribution, so an estimate may be slightly negative). The
    cubic kernel compares means, covariances and third moments.
    """
    features_x, features_y = np.asarray(features_x, dtype=np.float64), np.asarray(features_y, dtype=np.float64)
    n, d = features_x.shape
    m = features_y.shape[0]
    if n < 2 or m < 2:
        raise ValueError(f"the kernel distance needs at least 2 samples per set, got {n} and {m}")

    def kernel(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return (a @ b.T / d + 1.0) ** degree

    k_xx, k_yy = kernel(features_x, features_x), kernel(features_y, features_y)
    within_x = (k_xx.sum() - np.trace(k_xx)) / (n * (n - 1))
    within_y = (k_yy.sum() - np.trace(k_yy)) / (m * (m - 1))
    return float(within_x + within_y - 2.0 * kernel(features_x, features_y).mean())


def mfcc_distribution_distances(
    generated: np.ndarray,
    reference: np.ndarray,
    sample_rate: int,
    reference_features: np.ndarray | None = None,
) -> dict[str, float | None]:
    """The headline distribution distances on MFCC + delta features (`mfcc_delta_features`).

    The generated audio is loudness-matched to the reference first (as in
    `frechet_mfcc_distance`). Returns:

        frechet_mfcc_inf: `frechet_distance_extrapolated` of the raw features (bias-corrected FAD-style);
        kid_mfcc: `kernel_distance` of the features standardised with the
            reference's per-feature mean and standard deviation (so every
            coefficient and delta counts alike in the kernel).

    Both 0 for the same distribution; None when the audio is too short for
    delta features. `reference_features` skips recomputing the reference's.
    """
    features_ref = reference_features if reference_features is not None else mfcc_delta_features(reference, sample_rate)
    features_gen = mfcc_delta_features(_loudness_matched(generated, reference), sample_rate)
    if features_gen is None or features_ref is None:
        return dict.fromkeys(MFCC_DISTRIBUTION_KEYS)
    mean, std = features_ref.mean(axis=0), np.maximum(features_ref.std(axis=0), FEATURE_STD_FLOOR)
    return dict(zip(MFCC_DISTRIBUTION_KEYS, (
        frechet_distance_extrapolated(features_gen, features_ref),
        kernel_distance((features_gen - mean) / std, (features_ref - mean) / std),
    )))


# ----------------------------------------------------------------------------- known failures

# The distribution metrics a report headlines, and the known failures each ranks below a real unseen excerpt
# on the test suite's synthetic drum-and-bass music (tests/test_known_failures.py): averaged spectra cannot see
# clicks (they add broadband energy that can bring the average spectrum closer) or time reversal (the same
# spectrum), and frame statistics without deltas cannot see time reversal. compare re-checks this on each
# data set (ranking.md) and headlines a metric only for the failures it ranks there.
DISTRIBUTION_METRICS: tuple[str, ...] = ("kid_mfcc", "frechet_mfcc_inf", "frechet_mfcc", "mr_stft")
KNOWN_FAILURES: tuple[str, ...] = ("frozen_loop", "white_noise", "low_passed", "click_striped", "time_reversed")
RANKS: dict[str, tuple[str, ...]] = {
    "kid_mfcc": KNOWN_FAILURES,
    "frechet_mfcc_inf": KNOWN_FAILURES,
    "frechet_mfcc": ("frozen_loop", "white_noise", "low_passed", "click_striped"),
    "mr_stft": ("frozen_loop", "white_noise", "low_passed"),
}
LOW_PASS_HZ = 1000.0  # cut-off of the low-passed failure (6th-order Butterworth): a muffled wash
CLICK_PEAK_FRACTION = 0.5  # click-striped failure: an impulse of half the excerpt's peak at every frame boundary
NOISE_SEED = 0


def known_failures(excerpt: np.ndarray, sample_rate: int, frame_length: int, frame_hop: int) -> dict[str, np.ndarray]:
    """The failures a metric must rank below real audio, made from a real excerpt [samples].

    frozen_loop: the excerpt's loudest frame of `frame_length` samples repeated every `frame_hop`
        (hop-long pieces of it tiled); white_noise: Gaussian noise at the excerpt's RMS;
    low_passed: 6th-order Butterworth low-pass at `LOW_PASS_HZ`; click_striped: an impulse of
    `CLICK_PEAK_FRACTION` of the peak added at every frame boundary; time_reversed: played backwards.
    Each has the excerpt's length.
    """
    import scipy.signal

    excerpt = _as_mono(excerpt)
    frames = frame_signal(excerpt, frame_length, frame_hop)
    loudest = frames[int(np.argmax(np.sum(frames**2, axis=1)))][:frame_hop]
    frozen = np.tile(loudest, -(-excerpt.size // loudest.size))[: excerpt.size]
    noise = np.random.default_rng(NOISE_SEED).standard_normal(excerpt.size) * rms(excerpt)
    cutoff = min(LOW_PASS_HZ, 0.45 * sample_rate)
    low_passed = scipy.signal.sosfilt(scipy.signal.butter(6, cutoff, "low", fs=sample_rate, output="sos"), excerpt)
    clicks = excerpt.copy()
    clicks[frame_hop - 1 :: frame_hop] += CLICK_PEAK_FRACTION * float(np.max(np.abs(excerpt)))
    return {
        "frozen_loop": frozen,
        "white_noise": noise,
        "low_passed": low_passed,
        "click_striped": clicks,
        "time_reversed": excerpt[::-1].copy(),
    }


# A failure scored within this fraction of real audio's score (of the larger magnitude) is a tie, not a ranking:
# e.g. the average spectrum of time-reversed audio equals the original's up to frame alignment (0.06% apart).
RANK_TOLERANCE = 0.02


def ranks_below(real: float | None, failure: float | None, tolerance: float = RANK_TOLERANCE) -> bool:
    """Whether a distance ranks a failure below real audio: real scores lower by more than `tolerance`
    of the larger magnitude (lower is better for every `DISTRIBUTION_METRICS` key)."""
    if real is None or failure is None:
        return False
    return failure - real > tolerance * max(abs(failure), abs(real))


def reference_distances(audio: np.ndarray, profile: "ReferenceProfile", sample_rate: int) -> dict[str, float | None]:
    """The distances of one signal [samples] to a reference's `ReferenceProfile`: `mr_stft_distance`'s
    `MR_STFT_KEYS` (the profile's mean spectra), `frechet_mfcc` (its MFCC statistics) and
    `mfcc_distribution_distances`' `MFCC_DISTRIBUTION_KEYS` (its MFCC + delta features). The one place
    `evaluate_audio` and `distribution_scores` compute them, so the two cannot disagree."""
    scores: dict[str, float | None] = dict(mr_stft_distance(audio, profile.audio, reference_means=profile.mean_spectra()))
    scores["frechet_mfcc"] = frechet_mfcc_distance(audio, profile.audio, sample_rate,
                                                   reference_statistics=profile.mfcc_statistics())
    scores.update(mfcc_distribution_distances(audio, profile.audio, sample_rate, profile.features))
    return scores


def distribution_scores(audio: np.ndarray, reference: "np.ndarray | ReferenceProfile", sample_rate: int,
                        reference_features: np.ndarray | None = None) -> dict[str, float | None]:
    """The `DISTRIBUTION_METRICS` of one signal against a reference [samples] or its `ReferenceProfile` (the
    same values, the reference side computed once; `reference_features`: `mfcc_delta_features(reference)`)."""
    scores = reference_distances(audio, ReferenceProfile.of(reference, sample_rate, reference_features), sample_rate)
    return {key: scores[key] for key in DISTRIBUTION_METRICS}


def rank_known_failures(excerpt: np.ndarray, reference: "np.ndarray | ReferenceProfile", sample_rate: int,
                        frame_length: int, frame_hop: int,
                        reference_features: np.ndarray | None = None) -> dict[str, dict[str, float | None]]:
    """`distribution_scores` of a real excerpt ("real") and of each of its `known_failures`, against one
    reference [samples] or its `ReferenceProfile` (`reference_features`: `mfcc_delta_features(reference)`, to
    skip recomputing them); the reference side is computed once for all of them.

    Returns:
        {"real": scores, "frozen_loop": scores, ...}; a metric ranks a failure when
        `ranks_below(real's score, the failure's score)`.
    """
    profile = ReferenceProfile.of(reference, sample_rate, reference_features)
    signals = {"real": _as_mono(excerpt), **known_failures(excerpt, sample_rate, frame_length, frame_hop)}
    return {name: distribution_scores(audio, profile, sample_rate) for name, audio in signals.items()}


# ----------------------------------------------------------------------------- frame artefacts


def seam_ratio(audio: np.ndarray, frame_hop: int, offset: int = 0) -> float | None:
    """Clicks at frame boundaries: mean jump across boundaries over mean jump inside frames.

    With jumps d[t] = |x[t + 1] - x[t]|, boundary steps are t = offset +
    k * frame_hop - 1 (k >= 1; the last sample of one frame to the first of
    the next) and every other t is inside a frame:

        seam_ratio = mean(d[boundaries]) / mean(d[inside])

    1.0 means no clicks; frames concatenated with discontinuities score >> 1.
    A pure tone whose period divides frame_hop samples the same phase at
    every boundary and can read away from 1 without clicks; the real-audio
    baseline shows the data's own value. None when there is no boundary or
    the inside is constant.
    """
    audio = _as_mono(audio)
    jumps = np.abs(np.diff(audio))
    boundary = np.zeros(jumps.size, dtype=bool)
    boundary[offset + frame_hop - 1 :: frame_hop] = True
    if not boundary.any() or boundary.all():
        return None
    inside = float(jumps[~boundary].mean())
    if inside <= 0.0:
        return None
    return float(jumps[boundary].mean() / inside)


def frame_repetition(audio: np.ndarray, frame_length: int, frame_hop: int) -> float | None:
    """Frozen loops: mean cosine similarity of consecutive frames.

    Frames f_k = x[k * frame_hop : k * frame_hop + frame_length] (the frames the
    model generated); the score is the mean over k of
    <f_k, f_{k+1}> / (||f_k|| ||f_{k+1}||), skipping pairs with a silent frame.
    1.0 when one frame repeats; about 0 for noise. A steady tone whose period
    divides frame_hop also scores 1.0, so compare with the data's own score.
    None when fewer than two non-silent frames exist.
    """
    audio = _as_mono(audio)
    if audio.size < frame_length + frame_hop:
        return None
    frames = frame_signal(audio, frame_length, frame_hop)
    norms = np.linalg.norm(frames, axis=1)
    loud = norms >= SILENCE_RMS * np.sqrt(frame_length)
    pairs = loud[:-1] & loud[1:]
    if not pairs.any():
        return None
    cosine = np.sum(frames[:-1] * frames[1:], axis=1)[pairs] / (norms[:-1] * norms[1:])[pairs]
    return float(np.mean(cosine))


# Bins per hop of the folded power profile (`hop_pulse`): 100 samples each at the default hop of 2000.
PULSE_BINS = 20


def hop_pulse(audio: np.ndarray, frame_hop: int, bins: int = PULSE_BINS) -> float | None:
    """Amplitude pulsing at the frame rate: the depth (dB) of the power profile folded at `frame_hop`.

    The signal is cut into consecutive hops of `frame_hop` samples, each hop
    into `bins` equal bins; P[j] is the mean power of bin j over all hops and

        hop_pulse = 10 log10(max_j P[j] / min_j P[j])

    A generator whose frames share an envelope (a fixed loud and quiet place
    in every frame), or whose overlapping frames are uncorrelated and
    overlap-added with an amplitude-normalised window (up to 3 dB quieter
    halfway between frame centres), pulses at sample_rate / frame_hop Hz and
    reads several dB; stationary audio reads near 0 dB (the estimate's own
    noise, smaller the more hops). It does not depend on where the first hop
    starts (that only rotates the profile). Music whose beat subdivides into
    `frame_hop` samples pulses too: compare with the data's own value. None
    when the audio is shorter than two hops or a bin is silent on average.
    """
    audio = _as_mono(audio)
    hops = audio.size // frame_hop
    width = frame_hop // bins
    if hops < 2 or width < 1:
        return None
    power = audio[: hops * frame_hop].reshape(hops, frame_hop)[:, : bins * width] ** 2
    profile = power.reshape(hops, bins, width).mean(axis=(0, 2))
    if profile.min() <= _POWER_EPS:
        return None
    return float(10.0 * np.log10(profile.max() / profile.min()))


# Hops per window of `hop_periodicity`: about as many as a free-running training rollout of 8 frames of 4000
# every 2000 samples spans (9 hops, all of which the loss term `rec/hop_periodicity` reads), so ~1/8 for noise.
PERIODICITY_HOPS = 8


def hop_periodicity_windows(audio: np.ndarray, frame_hop: int, hops: int = PERIODICITY_HOPS) -> np.ndarray | None:
    """`hop_periodicity` of each window: `[samples]` -> `[windows]`, or None (fewer than `hops` hops; silence)."""
    audio = _as_mono(audio)
    windows = audio.size // (hops * frame_hop)
    if windows < 1 or hops < 2:
        return None
    h = audio[: windows * hops * frame_hop].reshape(windows, hops, frame_hop)
    power = np.mean(np.sum(h * h, axis=-1), axis=-1)
    keep = power > _POWER_EPS * frame_hop
    if not keep.any():
        return None
    mean = h[keep].mean(axis=1)
    return np.sum(mean * mean, axis=-1) / power[keep]


def hop_periodicity(audio: np.ndarray, frame_hop: int, hops: int = PERIODICITY_HOPS) -> float | None:
    """The share of the power in a waveform that repeats exactly every frame hop.

    The signal is cut into consecutive windows of `hops` hops of `frame_hop`
    samples; in each window, with h_k its hops and m their mean waveform,

        share = sum(m^2) / mean_k sum(h_k^2)

    and the result is the mean share over windows. 1 when every hop is the
    same waveform (a frozen frame; or tones whose frequencies are all
    multiples of sample_rate / frame_hop, which a frame model fed its own
    output falls into: such a tone continues from frame to frame with no
    phase to carry); ~1/hops for noise; lower for steady tones off that grid
    (their phase turns from hop to hop and the mean cancels). Music whose
    tones sit on the grid by chance reads higher: compare with the data's
    own value. None when the audio is shorter than one window or silent.
    """
    shares = hop_periodicity_windows(audio, frame_hop, hops)
    return None if shares is None else float(np.mean(shares))


# Onset detector frame for `onset_locking`, in samples: fine enough that an onset's place within a hop of 2000 is
# known to within about 1/16 of it (a coarser frame blurs the phases and lowers the reading).
LOCKING_HOP_LENGTH = 128
# Fewer onsets than this leave `onset_locking` undefined (the vector strength of n random phases is ~1/sqrt(n)).
LOCKING_MIN_ONSETS = 8


def vector_strength(times: np.ndarray, period: int) -> float:
    """How strongly `times` (in samples) fall at one place of a `period`: |mean_k exp(2 pi i (t_k mod period) / period)|.

    1 when every time is at the same phase, about 1/sqrt(n) for n times at phases the period does not decide.
    """
    phases = 2.0 * np.pi * (np.asarray(times) % period) / period
    return float(np.abs(np.mean(np.exp(1j * phases))))


def locking_onsets(audio: np.ndarray, sample_rate: int, min_gap_seconds: float = 0.04,
                   envelope: np.ndarray | None = None) -> np.ndarray | None:
    """The onsets `onset_locking` and `beat_period` read, in samples: librosa's relative peaks of `audio`'s
    onset envelope at `LOCKING_HOP_LENGTH`-sample frames, at least `min_gap_seconds` apart; None for silence."""
    return _onsets(_as_mono(audio), sample_rate, LOCKING_HOP_LENGTH, min_gap_seconds, absolute=False,
                   envelope=envelope)


def onset_locking(audio: np.ndarray, sample_rate: int, frame_hop: int, min_gap_seconds: float = 0.04,
                  onsets: np.ndarray | None = None) -> float | None:
    """How strongly the onsets fall at one place of the frame grid: the vector strength of their phase in the hop.

        phase_k = 2 pi (t_k mod frame_hop) / frame_hop     t_k: onset k, in samples (librosa's spectral-flux
                                                           detector, `LOCKING_HOP_LENGTH` samples per frame)
        onset_locking = |mean_k exp(i phase_k)|

    1 when every onset is at the same place of every hop (a generator whose
    frames carry an attack, or a loud place, at a fixed position), about
    1/sqrt(n) for n onsets at places the frames do not decide (music). Tells
    where the loudness rises are the frame grid's or the music's. Music on
    a beat locked to the hop reads high too: compare with the data's own
    value. None for fewer than `LOCKING_MIN_ONSETS` onsets or silence.

    Unlike `onset_rate`, the peaks are librosa's relative ones (the envelope
    rescaled to its own maximum): the question is where a signal's loudness
    rises within the hop, attacks or not, so a generator's pulse without a
    single attack still shows its place on the grid. `onsets`: `locking_onsets(audio, sample_rate,
    min_gap_seconds)`, when the caller has them already.
    """
    if onsets is None:
        onsets = locking_onsets(audio, sample_rate, min_gap_seconds)
    if onsets is None or len(onsets) < LOCKING_MIN_ONSETS:
        return None
    return vector_strength(onsets, frame_hop)


# The data's own `onset_locking` from which its rhythm counts as sharing the frame grid: half its onsets' phases
# agree (n onsets at places the hop does not decide read about 1/sqrt(n), under 0.1 for the hundreds of a reference).
GRID_LOCKED = 0.5
# `beat_period` refines librosa's tempo estimate (quantised to its onset-envelope frames: 117.2 BPM for a
# 120 BPM track at 128-sample frames) by searching periods within this fraction of it, one sample apart.
BEAT_SEARCH = 0.05


def beat_period(audio: np.ndarray, sample_rate: int, onsets: np.ndarray | None = None) -> tuple[int, float] | None:
    """The beat period, in samples, at which the onsets agree best, and how strongly they agree there.

        P0 = 60 sample_rate / librosa tempo       (onset envelope of `LOCKING_HOP_LENGTH`-sample frames)
        strength(P) = vector_strength(t, P),        P in P0 (1 +- BEAT_SEARCH), one sample apart
        returns (argmax_P strength, max strength)

    t_k are `onset_locking`'s onsets, so `beat_period(audio)[0] / frame_hop` says in how many frame hops the
    music beats: a whole number (120 BPM at 16 kHz is 4 hops of 2000) means that its onsets fall at fixed places
    of the hop, as a generator's own frame grid puts them. None for fewer than `LOCKING_MIN_ONSETS` onsets,
    silence or no tempo. `onsets`: `locking_onsets(audio, sample_rate)`, when the caller has them already.
    """
    import librosa

    mono = _as_mono(audio)
    envelope = onset_envelope(mono, sample_rate, LOCKING_HOP_LENGTH)
    if onsets is None:
        onsets = locking_onsets(mono, sample_rate, envelope=envelope)
    if onsets is None or len(onsets) < LOCKING_MIN_ONSETS:
        return None
    tempo = float(np.atleast_1d(librosa.feature.tempo(onset_envelope=envelope, sr=sample_rate,
                                                      hop_length=LOCKING_HOP_LENGTH))[0])
    if not np.isfinite(tempo) or tempo <= 0:
        return None
    center = 60.0 * sample_rate / tempo
    periods = np.arange(int(center * (1 - BEAT_SEARCH)), int(center * (1 + BEAT_SEARCH)) + 1)
    strength = np.array([vector_strength(onsets, period) for period in periods])
    best = int(np.argmax(strength))
    return int(periods[best]), float(strength[best])


# ----------------------------------------------------------------------------- all metrics


class ReferenceProfile:
    """The reference side of `evaluate_audio`, each value computed on first use and kept.

    Scoring n samples against one reference used to recompute its spectra, MFCC features and `*_data` values
    n times: against a 4-minute reference, six 30 s samples score 2.15x faster with one profile, the copy
    detector included (benchmarks/compare_reference.py). `advaudio.compare` scores every sample of every run
    and the real excerpt against one profile. Values that depend on the frame
    grid are kept per (frame_length, frame_hop).

    Args:
        audio: the reference [samples] (or [samples, channels], averaged).
        sample_rate: in Hz.
        features: `mfcc_delta_features(audio, sample_rate)` if already computed.
    """

    def __init__(self, audio: np.ndarray, sample_rate: int, features: np.ndarray | None = None):
        self.audio = _as_mono(audio)
        self.sample_rate = sample_rate
        self._values: dict = {} if features is None else {"features": features}

    @classmethod
    def of(cls, reference: "np.ndarray | ReferenceProfile", sample_rate: int,
           features: np.ndarray | None = None) -> "ReferenceProfile":
        """`reference` itself when it is a profile already, else a new profile of the audio [samples]."""
        return reference if isinstance(reference, cls) else cls(reference, sample_rate, features)

    def value(self, key, compute: Callable[[], object]):
        """`compute()` the first time `key` is asked for, the kept result after."""
        if key not in self._values:
            self._values[key] = compute()
        return self._values[key]

    @property
    def features(self) -> np.ndarray:
        """`mfcc_delta_features` of the reference [frames, features]."""
        return self.value("features", lambda: mfcc_delta_features(self.audio, self.sample_rate))

    def data_values(self, frame_length: int, frame_hop: int) -> dict[str, float | None]:
        """The `*_data` metric keys of `evaluate_audio` (loudness in dB), for this frame grid."""
        audio, rate = self.audio, self.sample_rate
        grid = self.value(("grid", frame_length, frame_hop), lambda: {
            "frame_repetition_data": frame_repetition(audio, frame_length, frame_hop),
            "hop_pulse_data_db": hop_pulse(audio, frame_hop),
            "onset_locking_data": self.onset_locking(frame_hop),
            "hop_periodicity_data": hop_periodicity(audio, frame_hop),
        })
        common = self.value("common", lambda: {
            "flatness_data": spectral_flatness(audio),
            "loudness_data_db": rms_db(audio),
            "pitch_data_hz": dominant_frequency(audio, rate),
            "onset_rate_data": onset_rate(audio, rate),
        })
        return {**common, **grid}

    def locking_onsets(self) -> np.ndarray | None:
        """`locking_onsets` of the reference."""
        return self.value("locking_onsets", lambda: locking_onsets(self.audio, self.sample_rate))

    def onset_locking(self, frame_hop: int) -> float | None:
        """`onset_locking` of the reference on a grid of `frame_hop`."""
        return onset_locking(self.audio, self.sample_rate, frame_hop, onsets=self.locking_onsets())

    def beat_period(self) -> tuple[int, float] | None:
        """`beat_period` of the reference, from the onsets its `onset_locking` reads."""
        return self.value("beat_period", lambda: beat_period(self.audio, self.sample_rate, self.locking_onsets()))

    def mfcc_statistics(self) -> tuple[np.ndarray, np.ndarray]:
        """`mfcc_statistics` of the reference, with `frechet_mfcc_distance`'s default segments."""
        return self.value("mfcc_statistics", lambda: mfcc_statistics(self.audio, self.sample_rate))

    def mean_spectra(self) -> list[np.ndarray]:
        """`mean_magnitude_spectra` of the reference at `PWG_RESOLUTIONS`."""
        return self.value("mean_spectra", lambda: mean_magnitude_spectra(self.audio, PWG_RESOLUTIONS))

    def power_spectrum(self) -> np.ndarray:
        """`average_power_spectrum` of the reference at `log_spectral_distance`'s defaults."""
        return self.value("power_spectrum", lambda: average_power_spectrum(self.audio))


def evaluate_audio(
    generated: np.ndarray,
    reference: np.ndarray | ReferenceProfile,
    sample_rate: int,
    frame_length: int,
    frame_hop: int,
    seed: np.ndarray | None = None,
    train_reference: np.ndarray | None = None,
    copy_chunk_seconds: float = 0.5,
    reference_features: np.ndarray | None = None,
) -> dict[str, float | None]:
    """Every metric of this module for one generated signal.

    Args:
        generated: the output [samples] (or [samples, channels], averaged).
        reference: held-out real audio of the same data [samples], or its `ReferenceProfile` (the same
            values, the reference side computed once for many samples).
        sample_rate: of both, in Hz.
        frame_length, frame_hop: the model's frames in samples (from the sidecar).
        seed: the real audio the output was warmed up on, or None.
        train_reference: real training audio, or None.
        copy_chunk_seconds: chunk length of the copy detectors.
        reference_features: `mfcc_delta_features(reference)`, to skip recomputing them.

    Returns:
        A dict with exactly the keys of `METRIC_KEYS`; None where a metric is
        undefined (silence, no seed given, ...). `*_data` keys are the same
        measure on the reference; `*_ratio` keys are output / data (1.0 ideal).
    """
    profile = ReferenceProfile.of(reference, sample_rate, reference_features)
    generated, reference = _as_mono(generated), profile.audio
    if generated.size == 0 or reference.size == 0:
        raise ValueError("evaluate_audio needs non-empty generated and reference audio")
    data = profile.data_values(frame_length, frame_hop)
    chunk = int(round(copy_chunk_seconds * sample_rate))
    row: dict[str, float | None] = {"duration_s": generated.size / sample_rate}
    distances = reference_distances(generated, profile, sample_rate)
    row.update({key: distances[key] for key in MR_STFT_KEYS})
    row["lsd_db"] = log_spectral_distance(generated, reference, reference_power=profile.power_spectrum())
    row["flatness"] = spectral_flatness(generated)
    row["flatness_data"] = data["flatness_data"]
    row["flatness_ratio"] = _ratio(row["flatness"], row["flatness_data"])
    row["loudness_db"] = rms_db(generated)
    row["loudness_data_db"] = data["loudness_data_db"]
    row["loudness_drop_db"] = loudness_drop(generated)
    row["silence_onset_s"] = silence_onset(generated, sample_rate, row["loudness_data_db"])
    row["seed_copy"] = None if seed is None else max_normalized_xcorr(generated, seed, chunk)
    row["train_copy"] = (
        None if train_reference is None else max_normalized_xcorr(generated, train_reference, chunk)
    )
    row["pitch_hz"] = dominant_frequency(generated, sample_rate)
    row["pitch_data_hz"] = data["pitch_data_hz"]
    row["pitch_ratio"] = _ratio(row["pitch_hz"], row["pitch_data_hz"])
    row["onset_rate"] = onset_rate(generated, sample_rate)
    row["onset_rate_data"] = data["onset_rate_data"]
    row["onset_rate_ratio"] = onset_rate_ratio(row["onset_rate"], row["onset_rate_data"])
    row.update({key: distances[key] for key in ("frechet_mfcc", *MFCC_DISTRIBUTION_KEYS)})
    row["seam_ratio"] = seam_ratio(generated, frame_hop)
    row["frame_repetition"] = frame_repetition(generated, frame_length, frame_hop)
    row["frame_repetition_data"] = data["frame_repetition_data"]
    row["hop_pulse_db"] = hop_pulse(generated, frame_hop)
    row["hop_pulse_data_db"] = data["hop_pulse_data_db"]
    row["onset_locking"] = onset_locking(generated, sample_rate, frame_hop)
    row["onset_locking_data"] = data["onset_locking_data"]
    row["hop_periodicity"] = hop_periodicity(generated, frame_hop)
    row["hop_periodicity_data"] = data["hop_periodicity_data"]
    assert tuple(row) == METRIC_KEYS, "METRIC_KEYS and evaluate_audio disagree"
    return row


# ----------------------------------------------------------------------------- run folders


AUDIO_SUFFIXES = (".wav", ".flac")


class RunFolderError(ValueError):
    """A run folder lacks what evaluation needs; the message names the path and the fix."""


def read_audio(path: str | Path) -> tuple[np.ndarray, int]:
    """Reads an audio file -> (float64 mono [samples], sample_rate)."""
    audio, sample_rate = sf.read(str(path), dtype="float64", always_2d=True)
    return audio.mean(axis=1), int(sample_rate)


SAMPLES = "samples"  # a run folder's samples folder (advaudio.generate writes others with --out)


def locate(path: str | Path) -> tuple[Path, Path]:
    """(run folder, samples folder) of a run folder or of a samples folder inside one.

    `runs/x/stamp` -> (runs/x/stamp, runs/x/stamp/samples); `runs/x/stamp/samples-unrevised` (written by
    `python -m advaudio.generate RUN --out RUN/samples-unrevised`) -> (runs/x/stamp, that folder). Every
    function here that takes `run_dir` accepts either.
    """
    path = Path(path)
    if not (path / "config.json").is_file() and (path.parent / "config.json").is_file():
        return path.parent, path
    return path, path / SAMPLES


def sample_paths(run_dir: str | Path) -> list[Path]:
    """The generated samples of a run: samples/*.wav and samples/*.flac (or those of the samples folder
    given, see `locate`), sorted by name."""
    samples = locate(run_dir)[1]
    if not samples.is_dir():
        return []
    return sorted(p for p in samples.iterdir() if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES)


def check_run_dir(run_dir: str | Path) -> None:
    """Raises RunFolderError unless `run_dir` (or the run folder of a samples folder) has config.json and
    at least one sample."""
    run_dir, samples = locate(run_dir)
    if not run_dir.is_dir():
        raise RunFolderError(f"{run_dir} is not a directory; pass a run folder such as runs/<experiment>/<timestamp>")
    if not (run_dir / "config.json").is_file():
        raise RunFolderError(
            f"{run_dir} has no config.json, so it is not a run folder; pass a folder written by "
            f"`python -m advaudio.run EXPERIMENT.py` (runs/<experiment>/<timestamp>), or a samples folder in one"
        )
    if not sample_paths(samples):
        raise RunFolderError(
            f"{samples} holds no generated audio; write some with "
            f"`python -m advaudio.generate {run_dir}`"
        )


def reference_path(run_dir: str | Path, split: str = "test") -> Path | None:
    """reference/<split>.wav of a run; for "test", falls back to valid.wav. None if absent."""
    reference = locate(run_dir)[0] / "reference"
    candidates = [split, "valid"] if split == "test" else [split]
    for name in candidates:
        for suffix in AUDIO_SUFFIXES:
            path = reference / f"{name}{suffix}"
            if path.is_file():
                return path
    return None


REFERENCE_SPLITS = ("train", "valid", "test")
# compare's default reference: the distribution the model learned. Generation never seeds from the train split,
# so no seed region overlaps it; a held-out reference would be one song's last 10% (often a fade-out).
DEFAULT_REFERENCE = "train"


def seed_regions(run_dir: str | Path, split: str) -> list[tuple[int, int]]:
    """[(start, end)) sample ranges of `split` that seeded the run's samples, from their sidecars."""
    regions = []
    for path in sample_paths(run_dir):
        sidecar = _load_sidecar(path)
        if sidecar.get("seed_split") != split or sidecar.get("seed_position") is None:
            continue
        frame_length, frame_hop = run_frames(run_dir, sidecar)
        span = (int(sidecar.get("seed_frames") or 1) - 1) * frame_hop + frame_length
        start = int(sidecar["seed_position"])
        regions.append((start, start + span))
    return regions


def exclude_regions(audio: np.ndarray, regions: Iterable[tuple[int, int]]) -> np.ndarray:
    """`audio` [samples] with the [start, end) ranges cut out and the rest joined in order."""
    audio = _as_mono(audio)
    keep = np.ones(audio.size, dtype=bool)
    for start, end in regions:
        keep[max(0, start) : max(0, end)] = False
    return audio[keep]


def load_reference(run_dirs: list[str | Path], choice: str | Path = DEFAULT_REFERENCE) -> tuple[np.ndarray, int, str]:
    """The audio every sample is scored against: a split of the run folders, or an audio file.

    A split ("train", "valid", "test") is reference/<split>.wav of the first run,
    with every region that seeded a sample of any of the runs cut out (a sample
    must not be judged against the audio it continues). Anything else is an
    audio file.

    Returns:
        (audio [samples], sample_rate, description for the report).
    Raises:
        RunFolderError: the split's file is missing, or the file does not exist.
    """
    if str(choice) in REFERENCE_SPLITS:
        split = str(choice)
        path = reference_path(run_dirs[0], split) if split != "test" else _exact_reference(run_dirs[0], split)
        if path is None:
            raise RunFolderError(
                f"{Path(run_dirs[0]) / 'reference'} has no {split}.wav; choose another reference with "
                f"--reference {'|'.join(s for s in REFERENCE_SPLITS if s != split)}|FILE"
            )
        audio, sample_rate = read_audio(path)
        regions = sorted({region for run in run_dirs for region in seed_regions(run, split)})
        kept = exclude_regions(audio, regions)
        note = f", {len(regions)} seed region(s) excluded" if regions else ""
        return kept, sample_rate, f"{split} split ({path}, {kept.size / sample_rate:.1f} s{note})"
    path = Path(choice)
    if not path.is_file():
        raise RunFolderError(
            f"reference {str(choice)!r} is neither a split ({', '.join(REFERENCE_SPLITS)}) nor an audio file"
        )
    audio, sample_rate = read_audio(path)
    return audio, sample_rate, f"file {path} ({audio.size / sample_rate:.1f} s)"


def _exact_reference(run_dir: str | Path, split: str) -> Path | None:
    """reference/<split>.wav (or .flac) without the test -> valid fallback of `reference_path`."""
    for suffix in AUDIO_SUFFIXES:
        path = locate(run_dir)[0] / "reference" / f"{split}{suffix}"
        if path.is_file():
            return path
    return None


def unseen_excerpt(run_dir: str | Path, reference_split: str | None, num_samples: int) -> tuple[np.ndarray, str] | None:
    """Real audio the model never trained on and the reference does not hold: the first `num_samples` of
    reference/test.wav, or of valid.wav when test is the reference (all of it when shorter).

    Returns:
        (audio [samples], description), or None when neither held-out split is there.
    """
    for split in ("test", "valid"):
        if split == reference_split:
            continue
        path = _exact_reference(run_dir, split)
        if path is None:
            continue
        audio = read_audio(path)[0]
        excerpt = audio[:num_samples]
        short = " (the whole split: it is shorter than the samples)" if audio.size < num_samples else ""
        return excerpt, f"the first {excerpt.size / read_audio(path)[1]:.1f} s of the {split} split{short}"
    return None


def run_frames(run_dir: str | Path, sidecar: dict | None = None) -> tuple[int, int]:
    """(frame_length, frame_hop) of a run: from a sample's sidecar, else config.json."""
    sidecar = sidecar or {}
    if "frame_length" in sidecar:
        frame_length = int(sidecar["frame_length"])
        return frame_length, int(sidecar.get("frame_hop") or frame_length)
    config_path = locate(run_dir)[0] / "config.json"
    data = json.loads(config_path.read_text()).get("data", {})
    frame_length = int(data.get("frame_length", 0))
    if frame_length <= 0:
        raise RunFolderError(f"{config_path} has no data.frame_length and no sample sidecar gives it")
    return frame_length, int(data.get("frame_hop") or frame_length)


def _load_sidecar(audio_path: Path) -> dict:
    path = audio_path.with_suffix(".json")
    return json.loads(path.read_text()) if path.is_file() else {}


def _seed_path(sample: Path) -> Path | None:
    """samples/seeds/<same name>, or the same stem with another audio suffix; None if absent."""
    seeds = sample.parent / "seeds"
    for candidate in [seeds / sample.name] + [seeds / (sample.stem + s) for s in AUDIO_SUFFIXES]:
        if candidate.is_file():
            return candidate
    return None


def evaluate_run(run_dir: str | Path, progress=None,
                 reference: tuple[np.ndarray, int] | ReferenceProfile | None = None) -> list[dict]:
    """Scores every sample of a run folder against a reference.

    Reads samples/*.wav (+ the sidecar JSON of the same name),
    samples/seeds/<same name>, reference/test.wav (fallback valid.wav) unless
    `reference` is given, and reference/train.wav.

    Args:
        run_dir: a run folder (see the run folder contract), or a samples folder in one (`locate`).
        progress: optional callable(str) told about each sample.
        reference: (audio [samples], sample_rate) to score against (e.g. from
            `load_reference`), or its `ReferenceProfile` (to share one between runs);
            None: reference/test.wav.

    Returns:
        One dict per sample: "sample" (file name), "checkpoint" (from the
        sidecar, or None), then the keys of `METRIC_KEYS`.

    Raises:
        RunFolderError: no config.json, no samples, no reference, or a
            sample whose sample rate differs from the reference's.
    """
    check_run_dir(run_dir)
    if reference is None:
        test_path = reference_path(run_dir, "test")
        if test_path is None:
            raise RunFolderError(
                f"{locate(run_dir)[0] / 'reference'} has neither test.wav nor valid.wav; the run folder is incomplete "
                f"(advaudio.run writes them before training)"
            )
        profile = ReferenceProfile(*read_audio(test_path))
        reference_name = str(test_path)
    else:
        profile = reference if isinstance(reference, ReferenceProfile) else ReferenceProfile(*reference)
        reference_name = "the reference"
    reference_rate = profile.sample_rate
    train_path = reference_path(run_dir, "train")
    train = read_audio(train_path)[0] if train_path is not None else None
    rows = []
    for path in sample_paths(run_dir):
        if progress is not None:
            progress(f"  scoring {path}")
        sidecar = _load_sidecar(path)
        generated, sample_rate = read_audio(path)
        if sample_rate != reference_rate:
            raise RunFolderError(
                f"{path} is at {sample_rate} Hz but {reference_name} is at {reference_rate} Hz; "
                f"regenerate the sample at the data's rate"
            )
        seed_file = _seed_path(path)
        seed = read_audio(seed_file)[0] if seed_file is not None else None
        frame_length, frame_hop = run_frames(run_dir, sidecar)
        row: dict = {"sample": path.name, "checkpoint": sidecar.get("checkpoint")}
        row.update(
            evaluate_audio(generated, profile, sample_rate, frame_length, frame_hop, seed=seed, train_reference=train)
        )
        rows.append(row)
    return rows
