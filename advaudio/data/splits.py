"""Train/valid/test splits: by time for one long signal, by file for a collection."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from advaudio.data.errors import DataError

SPLITS = ("train", "valid", "test")


@dataclass
class SplitAudio:
    """One split's audio.

    Attributes:
        signal: float32 [samples], the split's audio (normalised by `prepare`).
        segments: `[start, end)` regions of `signal`, one per source file;
            examples never cross a segment boundary.
        sources: the source name of each segment.
    """

    signal: np.ndarray
    segments: list[tuple[int, int]] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)

    @classmethod
    def from_clips(cls, clips: list[tuple[str, np.ndarray]]) -> "SplitAudio":
        """Concatenates `(name, audio[samples])` clips, one segment each."""
        segments, position = [], 0
        for _, audio in clips:
            segments.append((position, position + len(audio)))
            position += len(audio)
        signal = np.concatenate([a for _, a in clips]).astype(np.float32) if clips else np.zeros(0, np.float32)
        return cls(signal, segments, [name for name, _ in clips])

    @property
    def samples(self) -> int:
        return int(len(self.signal))


def check_fractions(fractions) -> tuple[float, float, float]:
    """Validates `data.split`: three positive fractions that sum to 1."""
    try:
        values = tuple(float(f) for f in fractions)
    except (TypeError, ValueError):
        values = ()
    if len(values) != 3 or any(not np.isfinite(v) or v <= 0 for v in values) or abs(sum(values) - 1.0) > 1e-6:
        raise DataError(
            f"data.split={fractions!r} must be three positive fractions (train, valid, test) that sum to 1, "
            "e.g. (0.8, 0.1, 0.1)"
        )
    return values


def time_boundaries(samples: int, fractions) -> tuple[int, int]:
    """Sample indices `(b1, b2)`: train = [0, b1), valid = [b1, b2), test = [b2, samples)."""
    f_train, f_valid, _ = check_fractions(fractions)
    b1 = int(round(samples * f_train))
    b2 = int(round(samples * (f_train + f_valid)))
    return b1, max(b1, min(b2, samples))


def split_by_time(name: str, signal: np.ndarray, fractions) -> dict[str, SplitAudio]:
    """One long signal -> contiguous train/valid/test parts, in that order in time."""
    b1, b2 = time_boundaries(len(signal), fractions)
    parts = {"train": signal[:b1], "valid": signal[b1:b2], "test": signal[b2:]}
    return {key: SplitAudio.from_clips([(name, part)]) for key, part in parts.items()}


def assign_files(names: list[str], fractions, seed: int) -> dict[str, list[int]]:
    """Indices of `names` per split: a seeded shuffle, then counts by fraction (>= 1 file each).

    Deterministic from `seed` and the set of names (their order does not matter).
    """
    f_train, f_valid, f_test = check_fractions(fractions)
    n = len(names)
    if n < len(SPLITS):
        raise DataError(
            f"a split by file needs at least 3 audio files (one each for train, valid and test), "
            f"found {n}: {names}; add files, or point data.source at one long file to split it by time"
        )
    order = sorted(range(n), key=lambda i: names[i])
    order = [order[i] for i in np.random.default_rng(seed).permutation(n)]
    n_valid = max(1, int(round(n * f_valid)))
    n_test = max(1, int(round(n * f_test)))
    n_train = n - n_valid - n_test
    if n_train < 1:
        n_train = 1
        n_valid = max(1, n - n_train - n_test)
        n_test = n - n_train - n_valid
    return {
        "train": sorted(order[:n_train]),
        "valid": sorted(order[n_train : n_train + n_valid]),
        "test": sorted(order[n_train + n_valid :]),
    }


def split_by_file(clips: list[tuple[str, np.ndarray]], fractions, seed: int) -> dict[str, SplitAudio]:
    """A collection of clips -> whole clips per split (see `assign_files`)."""
    assignment = assign_files([name for name, _ in clips], fractions, seed)
    return {key: SplitAudio.from_clips([clips[i] for i in indices]) for key, indices in assignment.items()}
