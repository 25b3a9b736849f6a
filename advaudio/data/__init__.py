"""Data layer: audio sources, splits, normalisation statistics and the lazy example pipeline.

    prepared = prepare(cfg.data)                       # load, validate, split, normalise
    ds = make_dataset(prepared.train, cfg.data, shuffle=True, seed=0, repeat=True)
"""
from advaudio.data.errors import DataError
from advaudio.data.prepare import Prepared, fingerprint, prepare
from advaudio.data.sources import Recording, load_source, read_audio_file, source_kind
from advaudio.data.splits import SPLITS, SplitAudio
from advaudio.data.stats import Stats
from advaudio.data.windows import example_starts, frames_at, make_dataset, num_examples

__all__ = [
    "DataError",
    "Prepared",
    "Recording",
    "SPLITS",
    "SplitAudio",
    "Stats",
    "example_starts",
    "fingerprint",
    "frames_at",
    "load_source",
    "make_dataset",
    "num_examples",
    "prepare",
    "read_audio_file",
    "source_kind",
]
