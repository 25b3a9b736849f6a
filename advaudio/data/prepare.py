"""`prepare`: source -> validated, split, normalised audio plus its description."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from advaudio.config import Data, example_span, frame_hop
from advaudio.data.errors import DataError
from advaudio.data.sources import load_source
from advaudio.data.splits import SPLITS, SplitAudio, check_fractions, split_by_file, split_by_time
from advaudio.data.stats import KINDS, Stats
from advaudio.data.windows import check_windowing, num_examples


@dataclass
class Prepared:
    """Everything training needs from the data.

    Attributes:
        sample_rate: Hz of every split (and of every file written from them).
        train, valid, test: normalised splits.
        stats: the training split's statistics (invert with `stats.denormalize`).
        description: JSON-ready `{"source", "sample_rate", "fingerprint",
            "seconds": {split: s}, "files": {split: [names]}}` (the run's data.json).
    """

    sample_rate: int
    train: SplitAudio
    valid: SplitAudio
    test: SplitAudio
    stats: Stats
    description: dict

    def split(self, name: str) -> SplitAudio:
        if name not in SPLITS:
            raise DataError(f"unknown split {name!r}; use one of {', '.join(SPLITS)}")
        return getattr(self, name)


def fingerprint(clips: list[tuple[str, np.ndarray]], sample_rate: int) -> str:
    """sha256 hex digest of the decoded audio (float32, mono, at `sample_rate`) in source order."""
    digest = hashlib.sha256(f"sr={int(sample_rate)};".encode())
    for _, audio in clips:
        digest.update(np.ascontiguousarray(audio, dtype=np.float32).tobytes())
    return digest.hexdigest()


def check_data_config(data: Data) -> None:
    """Raises DataError for config values the data layer cannot honour."""
    if isinstance(data.sample_rate, bool) or not isinstance(data.sample_rate, int) or data.sample_rate < 1:
        raise DataError(f"data.sample_rate={data.sample_rate!r} must be a positive integer (Hz)")
    if data.normalization not in KINDS:
        raise DataError(f"data.normalization={data.normalization!r} is unknown; use one of {', '.join(KINDS)}")
    check_fractions(data.split)
    check_windowing(data)


def _check_long_enough(splits: dict[str, SplitAudio], data: Data, by_file: bool, total_samples: int) -> None:
    span = example_span(data)
    need = span / data.sample_rate
    shape = (
        f"one example is sequence_length + 1 = {data.sequence_length + 1} frames of {data.frame_length} samples "
        f"every {frame_hop(data)} = {span} samples = {need:.3f} s at {data.sample_rate} Hz"
    )
    for key in SPLITS:
        split = splits[key]
        if num_examples(split, data) > 0:
            continue
        have = split.samples / data.sample_rate
        if by_file:
            longest = max((end - start for start, end in split.segments), default=0) / data.sample_rate
            raise DataError(
                f"the {key} split (files {split.sources}) has no file long enough for one example: its longest is "
                f"{longest:.3f} s but {shape}; each split needs a file of at least {need:.3f} s. Use longer files, "
                "or smaller data.frame_length / data.sequence_length"
            )
        fraction = check_fractions(data.split)[SPLITS.index(key)]
        total_need = need / min(check_fractions(data.split))
        raise DataError(
            f"{split.sources[0] if split.sources else data.source} is too short: {total_samples / data.sample_rate:.3f} s "
            f"in all, so the {key} split ({fraction:g} of it) holds {have:.3f} s, but {shape}. Each split needs "
            f"at least {need:.3f} s, so the source needs at least {total_need:.3f} s with data.split={tuple(data.split)}. "
            "Use longer audio, or smaller data.frame_length / data.sequence_length"
        )


def prepare(data: Data) -> Prepared:
    """Loads `data.source`, splits it, computes training statistics and normalises every split.

    Raises:
        DataError: any bad input, before training starts.
    """
    check_data_config(data)
    recording = load_source(data)
    digest = fingerprint(recording.clips, data.sample_rate)
    if recording.by_file:
        raw = split_by_file(recording.clips, data.split, data.split_seed)
    else:
        name, audio = recording.clips[0]
        raw = split_by_time(name, audio, data.split)
    total = sum(len(audio) for _, audio in recording.clips)
    _check_long_enough(raw, data, recording.by_file, total)
    stats = Stats.from_signal(raw["train"].signal, data.normalization, name=f"training split of {recording.source}")
    splits = {
        key: SplitAudio(stats.normalize(split.signal), list(split.segments), list(split.sources))
        for key, split in raw.items()
    }
    description = {
        "source": str(data.source),
        "sample_rate": int(data.sample_rate),
        "fingerprint": digest,
        "split_by": "file" if recording.by_file else "time",
        "seconds": {key: splits[key].samples / data.sample_rate for key in SPLITS},
        "files": {key: list(splits[key].sources) for key in SPLITS},
    }
    if recording.notes:
        description["notes"] = list(recording.notes)
    return Prepared(data.sample_rate, splits["train"], splits["valid"], splits["test"], stats, description)
