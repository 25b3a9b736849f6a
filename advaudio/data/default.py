"""The embedded default data: a deterministic synthesized ambient drone, cached on disk.

A slowly moving chord of harmonic partials (voices glide between chords),
a loudness pulsation every ~5-8 s, chord changes every few tens of seconds
following a REPEATING progression (so valid and test hold the same musical
material as train), and a faint noise floor. Generated from a seed in
seconds with vectorised numpy, chunk by chunk.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from advaudio.data.errors import DataError

VERSION = 2
# A four-chord progression (MIDI notes, one per voice) that repeats for the whole track.
PROGRESSION = (
    (45, 52, 57, 60, 64),  # A minor (add 9 colour from the top voice)
    (41, 48, 53, 57, 60),  # F major
    (43, 50, 55, 59, 62),  # G major
    (40, 47, 52, 56, 59),  # E major
)
HARMONICS = 6
CHUNK = 1 << 18  # samples synthesized at once; bounds the temporary memory


def _midi_to_hz(midi: np.ndarray) -> np.ndarray:
    return 440.0 * 2.0 ** ((midi - 69.0) / 12.0)


class _Score:
    """Every seeded parameter of one track; `render(t)` is a pure function of sample times."""

    def __init__(self, seed: int, sample_rate: int):
        rng = np.random.default_rng(seed)
        self.sample_rate = sample_rate
        self.transpose = int(rng.integers(-3, 4))
        self.chord_seconds = float(rng.uniform(20.0, 32.0))
        self.glide_seconds = float(rng.uniform(2.0, 4.0))
        voices = len(PROGRESSION[0])
        self.detune_hz = rng.uniform(0.15, 0.6, voices)  # beating between twin oscillators
        self.voice_gain = rng.uniform(0.6, 1.0, voices)
        self.voice_lfo_seconds = rng.uniform(11.0, 23.0, voices)
        self.voice_lfo_phase = rng.uniform(0.0, 2 * np.pi, voices)
        self.harmonic_gain = (1.0 / np.arange(1, HARMONICS + 1) ** 1.5) * rng.uniform(0.7, 1.0, HARMONICS)
        self.pulse_mid_seconds = float(rng.uniform(6.0, 6.5))  # pulsation period drifts around it
        self.pulse_drift_seconds = float(rng.uniform(60.0, 120.0))
        self.noise_level = 0.004
        self.noise_seed = int(rng.integers(2**31))

    def pitches(self, t: np.ndarray) -> np.ndarray:
        """MIDI pitch per voice [voices, samples]: hold a chord, then glide to the next."""
        first = int(np.floor(t[0] / self.chord_seconds))
        last = int(np.floor(t[-1] / self.chord_seconds)) + 1
        chords = np.array(PROGRESSION, np.float64) + self.transpose
        knots_t, knots_p = [], []
        for j in range(first, last + 1):
            knots_t += [j * self.chord_seconds, (j + 1) * self.chord_seconds - self.glide_seconds]
            knots_p += [chords[j % len(chords)], chords[j % len(chords)]]
        knots_t, knots_p = np.array(knots_t), np.array(knots_p)
        return np.stack([np.interp(t, knots_t, knots_p[:, v]) for v in range(chords.shape[1])])

    def pulse_phase(self, t: np.ndarray) -> np.ndarray:
        """Phase (radians) of the loudness pulsation; its period drifts within ~5-8 s."""
        # Instantaneous frequency (1 + 0.15 sin(2 pi t / drift)) / mid, integrated in closed form:
        # the period stays within mid/1.15 .. mid/0.85, i.e. about 5.2 .. 7.6 s.
        mid, drift = self.pulse_mid_seconds, self.pulse_drift_seconds
        depth = 0.15 / mid
        return 2 * np.pi * (t / mid - depth * drift / (2 * np.pi) * np.cos(2 * np.pi * t / drift))

    def phases(self, t: np.ndarray, start_phase: np.ndarray) -> np.ndarray:
        """Oscillator phase per voice [voices, samples], continued from `start_phase` [voices]."""
        freq = _midi_to_hz(self.pitches(t))
        phase = start_phase[:, None] + np.cumsum(freq, axis=1) * (2 * np.pi / self.sample_rate)
        return phase

    def render(self, t: np.ndarray, phase: np.ndarray) -> np.ndarray:
        """Audio [samples] at times `t` given fundamental phases [voices, samples] (no noise)."""
        out = np.zeros(len(t), np.float64)
        for v in range(phase.shape[0]):
            base = np.mod(phase[v], 2 * np.pi)
            twin = np.mod(phase[v] + 2 * np.pi * self.detune_hz[v] * t, 2 * np.pi)
            voice = np.zeros(len(t), np.float32)
            for k in range(HARMONICS):
                g = np.float32(self.harmonic_gain[k])
                voice += g * (np.sin(((k + 1) * base).astype(np.float32)) + np.sin(((k + 1) * twin).astype(np.float32)))
            lfo = 0.7 + 0.3 * np.sin(2 * np.pi * t / self.voice_lfo_seconds[v] + self.voice_lfo_phase[v])
            out += self.voice_gain[v] * lfo * voice
        pulse = 0.55 + 0.225 * (1.0 + np.sin(self.pulse_phase(t)))  # one swell per period
        return out * pulse


def synthesize_drone(minutes: float, sample_rate: int = 16000, seed: int = 0) -> np.ndarray:
    """float32 [round(minutes * 60 * sample_rate)] in about -0.5..0.5; deterministic from the arguments."""
    samples = int(round(minutes * 60 * sample_rate))
    if samples <= 0:
        raise DataError(f"data.default_minutes={minutes!r} gives no audio; use a positive length")
    score = _Score(seed, sample_rate)
    noise_rng = np.random.default_rng(score.noise_seed)
    out = np.empty(samples, np.float32)
    phase = np.zeros(len(PROGRESSION[0]))
    for begin in range(0, samples, CHUNK):
        end = min(samples, begin + CHUNK)
        t = np.arange(begin, end) / sample_rate
        phases = score.phases(t, phase)
        phase = phases[:, -1]
        out[begin:end] = score.render(t, phases)
    # Fixed gain (not the track's own peak) so a prefix of a longer track equals a shorter track.
    voices = len(PROGRESSION[0])
    out *= np.float32(0.5 / (2 * voices * score.harmonic_gain.sum()) * 2.5)
    noise = noise_rng.standard_normal(samples).astype(np.float32)
    out += np.float32(score.noise_level) * noise
    return out


def cache_path(minutes: float, sample_rate: int, seed: int, cache_dir: str | None) -> Path:
    """Where the track for these arguments is cached (keyed by minutes, sample rate, seed, version)."""
    root = Path(cache_dir) if cache_dir else Path.home() / ".cache" / "advaudio"
    key = f"drone-v{VERSION}-sr{sample_rate}-seed{seed}-min{float(minutes)!r}"
    digest = hashlib.sha256(key.encode()).hexdigest()[:10]
    return root / f"drone-v{VERSION}-sr{sample_rate}-seed{seed}-{digest}.npy"


def load_drone(minutes: float, sample_rate: int = 16000, seed: int = 0, cache_dir: str | None = None) -> np.ndarray:
    """The cached track, synthesized (and cached atomically) on first use."""
    path = cache_path(minutes, sample_rate, seed, cache_dir)
    expected = int(round(minutes * 60 * sample_rate))
    if path.is_file():
        try:
            audio = np.load(path, allow_pickle=False)
            if audio.dtype == np.float32 and audio.shape == (expected,):
                return audio
        except (OSError, ValueError):
            pass  # a damaged cache file is regenerated below
    audio = synthesize_drone(minutes, sample_rate, seed)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp.npy")
        np.save(tmp, audio, allow_pickle=False)
        os.replace(tmp, path)
    except OSError:
        pass  # an unwritable cache only costs regeneration next time
    return audio
