"""Audio sources: a file, a folder, a glob, a TFDS dataset, the embedded default.

Each source kind is registered in `advaudio.registry.SOURCES` as a function
`(data: Data) -> Recording`; `load_source` picks the kind from `data.source`.
Every clip comes back mono float32 at `data.sample_rate`, checked for
emptiness, silence and non-finite samples.
"""
from __future__ import annotations

import glob as globlib
import struct
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from advaudio.config import Data
from advaudio.data import default as default_track
from advaudio.data.errors import DataError
from advaudio.registry import SOURCES

SOUNDFILE_EXTENSIONS = (".wav", ".flac", ".ogg", ".oga", ".aiff", ".aif", ".aifc", ".au", ".snd")
LIBROSA_EXTENSIONS = (".mp3",)
AUDIO_EXTENSIONS = SOUNDFILE_EXTENSIONS + LIBROSA_EXTENSIONS
BAD_FILE_POLICIES = ("fail", "skip")


@dataclass
class Recording:
    """Decoded audio of a source.

    Attributes:
        clips: `(name, audio)` pairs; audio is float32 mono [samples] at the data sample rate.
        by_file: True for a collection split by file; False for one signal split by time.
        source: a description of where the audio came from.
    """

    clips: list[tuple[str, np.ndarray]]
    by_file: bool
    source: str
    notes: list[str] = field(default_factory=list)


def to_mono(audio: np.ndarray) -> np.ndarray:
    """[samples] or [samples, channels] -> float32 [samples] (channel mean)."""
    audio = np.asarray(audio)
    if audio.ndim == 2:
        audio = audio.mean(axis=1)
    elif audio.ndim != 1:
        raise ValueError(f"expected audio of shape [samples] or [samples, channels], got {audio.shape}")
    return audio.astype(np.float32, copy=False)


def resample(audio: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    """float32 [samples] at `orig_sr` -> float32 at `target_sr` (librosa's soxr resampler)."""
    if int(orig_sr) == int(target_sr):
        return audio
    import librosa

    return librosa.resample(audio, orig_sr=int(orig_sr), target_sr=int(target_sr)).astype(np.float32)


def _declared_data_bytes(path: Path) -> tuple[int, int] | None:
    """(declared, present) bytes of the sample data for WAV/AIFF/AU headers, else None.

    libsndfile silently clamps a truncated WAV/AIFF/AU to what is left, so a
    cut-off download would otherwise go unnoticed.
    """
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(12)
        if len(head) < 12:
            return None
        if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
            return _find_chunk(f, size, b"data", "<I", 12)
        if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
            return _find_chunk(f, size, b"SSND", ">I", 12)
        if head[:4] == b".snd":
            f.seek(4)
            offset, length = struct.unpack(">II", f.read(8))
            if length == 0xFFFFFFFF:
                return None
            return length, max(0, size - offset)
    return None


def _find_chunk(f, size: int, wanted: bytes, fmt: str, position: int) -> tuple[int, int] | None:
    while position + 8 <= size:
        f.seek(position)
        chunk_id, length = f.read(4), struct.unpack(fmt, f.read(4))[0]
        if chunk_id == wanted:
            if length in (0, 0xFFFFFFFF):  # streamed or RF64 files carry no usable size
                return None
            return length, size - position - 8
        position += 8 + length + (length & 1)
    return None


def read_audio_file(path: str | Path, sample_rate: int) -> np.ndarray:
    """Decodes one file to float32 mono [samples] at `sample_rate`.

    Raises:
        DataError: unreadable, truncated or non-audio file; empty, silent or non-finite audio.
    """
    path = Path(path)
    fix = "re-export or replace the file"
    if not path.is_file():
        raise DataError(f"audio file {path} does not exist; check data.source")
    suffix = path.suffix.lower()
    if suffix not in AUDIO_EXTENSIONS:
        raise DataError(
            f"{path} is not an audio file advaudio reads ({', '.join(AUDIO_EXTENSIONS)}); "
            "convert it or point data.source elsewhere"
        )
    import soundfile as sf

    try:
        if suffix in LIBROSA_EXTENSIONS:
            import librosa

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                audio, orig_sr = librosa.load(path, sr=None, mono=False)
            audio = np.asarray(audio).T  # librosa: [channels, samples]
            try:
                declared = sf.info(str(path)).frames
            except Exception:  # noqa: BLE001 - header-less MP3: no length to compare
                declared = None
            # MP3 lengths in headers are estimates; only a clear shortfall is truncation.
            if declared and len(audio) < 0.98 * declared - 2 * 1152:
                raise DataError(f"{path} is truncated: {len(audio)} of {declared} samples decode; {fix}")
        else:
            with sf.SoundFile(str(path)) as f:
                orig_sr, declared = f.samplerate, f.frames
                audio = f.read(dtype="float32", always_2d=True)
            if len(audio) < declared:
                raise DataError(f"{path} is truncated: {len(audio)} of {declared} samples decode; {fix}")
            sizes = _declared_data_bytes(path)
            if sizes is not None and sizes[1] < sizes[0]:
                raise DataError(
                    f"{path} is truncated: its header promises {sizes[0]} bytes of audio, the file holds {sizes[1]}; {fix}"
                )
    except DataError:
        raise
    except Exception as err:  # soundfile/librosa/audioread raise many types for garbage input
        raise DataError(f"cannot read {path} as audio ({type(err).__name__}: {err}); {fix}") from None
    audio = to_mono(audio)
    check_clip(audio, str(path))
    return resample(audio, orig_sr, sample_rate)


def check_clip(audio: np.ndarray, name: str) -> None:
    """Raises DataError for empty, non-finite or all-silent audio."""
    if audio.size == 0:
        raise DataError(f"{name} holds no audio samples; remove it or use a file with audio")
    finite = np.isfinite(audio)
    if not finite.all():
        raise DataError(
            f"{name} contains {int(audio.size - finite.sum())} NaN or inf samples; clean or re-export it"
        )
    if not np.any(audio != audio.flat[0]):
        raise DataError(f"{name} is all silent (constant); remove it or use audio with sound in it")


def _read_collection(paths: list[Path], data: Data, what: str) -> Recording:
    if data.on_bad_file not in BAD_FILE_POLICIES:
        raise DataError(f"data.on_bad_file={data.on_bad_file!r} is unknown; use 'fail' or 'skip'")
    clips, notes = [], []
    for path in paths:
        try:
            clips.append((str(path), read_audio_file(path, data.sample_rate)))
        except DataError as err:
            if data.on_bad_file == "fail":
                raise DataError(f"{err} (in {what}; set data.on_bad_file='skip' to skip bad files with a warning)") from None
            warnings.warn(f"skipping bad audio file: {err}", stacklevel=3)
            notes.append(f"skipped {path}: {err}")
    if not clips:
        raise DataError(f"{what} holds no readable audio file; check data.source")
    # One file is one long signal: split it by time rather than refuse a by-file split.
    return Recording(clips, by_file=len(clips) > 1, source=what, notes=notes)


@SOURCES.register("file")
def file_source(data: Data) -> Recording:
    """`data.source` is one audio file: one long signal, split by time."""
    audio = read_audio_file(data.source, data.sample_rate)
    return Recording([(str(data.source), audio)], by_file=False, source=str(data.source))


@SOURCES.register("folder")
def folder_source(data: Data) -> Recording:
    """Every audio file under the folder `data.source` (recursively, sorted), split by file.

    Files with other extensions are ignored; a folder with a single audio file is
    split by time like a file. A bad audio file fails, or is skipped with a
    warning when `data.on_bad_file == "skip"`.
    """
    root = Path(data.source)
    paths = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_EXTENSIONS)
    if not paths:
        raise DataError(
            f"folder {root} holds no audio files ({', '.join(AUDIO_EXTENSIONS)}); check data.source"
        )
    return _read_collection(paths, data, f"folder {root}")


@SOURCES.register("glob")
def glob_source(data: Data) -> Recording:
    """Every file matching the glob `data.source` (sorted, `**` recursive), split by file."""
    paths = sorted(Path(p) for p in globlib.glob(data.source, recursive=True) if Path(p).is_file())
    if not paths:
        raise DataError(f"glob {data.source!r} matches no files; check data.source")
    return _read_collection(paths, data, f"glob {data.source!r}")


@SOURCES.register("default")
def default_source(data: Data) -> Recording:
    """The embedded synthesized drone (`data.default_minutes`, `data.default_seed`)."""
    audio = default_track.load_drone(data.default_minutes, data.sample_rate, data.default_seed, data.cache_dir)
    name = f"default:drone-v{default_track.VERSION}(minutes={data.default_minutes}, seed={data.default_seed})"
    return Recording([(name, audio)], by_file=False, source=name)


@SOURCES.register("tfds")
def tfds_source(data: Data) -> Recording:
    """`tfds:NAME[/CONFIG]`: the clips of `data.tfds_split`, read from `data.tfds_data_dir`, never downloaded.

    The clips are concatenated in dataset order into one long signal, split by time.
    """
    name = data.source[len("tfds:"):]
    try:
        import tensorflow_datasets as tfds
    except ImportError as err:  # pragma: no cover - a pinned dependency
        raise DataError(f"data.source={data.source!r} needs tensorflow-datasets ({err}); pip install -r requirements.txt") from None
    data_dir = data.tfds_data_dir
    where = data_dir or "the default TFDS data_dir (~/tensorflow_datasets)"
    try:
        builder = tfds.builder(name, data_dir=data_dir)
    except tfds.core.registered.DatasetNotFoundError:
        raise DataError(
            f"data.source={data.source!r}: TFDS has no dataset named {name!r}; "
            "see https://www.tensorflow.org/datasets/catalog for names"
        ) from None
    except Exception as err:  # noqa: BLE001 - tfds raises assorted errors for bad names/configs
        raise DataError(f"data.source={data.source!r}: cannot open TFDS dataset {name!r} ({err})") from None
    features = builder.info.features
    if data.tfds_audio_key not in features:
        raise DataError(
            f"TFDS dataset {name!r} has no feature {data.tfds_audio_key!r} (it has {', '.join(features)}); "
            "set data.tfds_audio_key"
        )
    feature = features[data.tfds_audio_key]
    orig_sr = getattr(feature, "sample_rate", None) or data.sample_rate
    try:
        ds = tfds.load(name, split=data.tfds_split, data_dir=data_dir, download=False)
    except (AssertionError, FileNotFoundError) as err:
        raise DataError(
            f"TFDS dataset {name!r} (split {data.tfds_split!r}) is not prepared in {where}: {err} "
            f"Prepare it once with `tfds build {name} --data_dir=DIR` (or tfds.builder(...).download_and_prepare()) "
            "and set data.tfds_data_dir=DIR; advaudio never downloads at run time"
        ) from None
    except Exception as err:  # noqa: BLE001 - bad split names and friends
        raise DataError(f"cannot read TFDS dataset {name!r} split {data.tfds_split!r} from {where}: {err}") from None
    scale = None
    parts = []
    for example in tfds.as_numpy(ds):
        audio = np.asarray(example[data.tfds_audio_key])
        if scale is None and np.issubdtype(audio.dtype, np.integer):
            scale = float(np.iinfo(audio.dtype).max) + 1.0
        audio = to_mono(audio.astype(np.float32) / (scale or 1.0))
        if audio.size:
            parts.append(audio)
    label = f"tfds:{name}/{data.tfds_split}"
    if not parts:
        raise DataError(f"{label} holds no audio; check data.tfds_split and data.tfds_audio_key")
    signal = np.concatenate(parts)
    check_clip(signal, label)
    signal = resample(signal, orig_sr, data.sample_rate)
    return Recording([(label, signal)], by_file=False, source=label, notes=[f"{len(parts)} clips concatenated"])


def source_kind(source: str) -> str:
    """The SOURCES entry that reads `source`: a registered name, tfds:, glob, folder or file."""
    if source in SOURCES and source not in ("file", "folder", "glob", "tfds"):
        return source
    if source.startswith("tfds:"):
        return "tfds"
    if any(ch in source for ch in "*?["):
        return "glob"
    path = Path(source)
    if path.is_dir():
        return "folder"
    if path.is_file():
        return "file"
    raise DataError(
        f"data.source={source!r} is neither 'default', 'tfds:NAME', a glob, nor an existing file or folder; "
        f"registered sources: {', '.join(SOURCES.names())}"
    )


def load_source(data: Data) -> Recording:
    """Reads `data.source` through the registry."""
    if not isinstance(data.source, str) or not data.source:
        raise DataError(f"data.source={data.source!r} must be a non-empty string")
    return SOURCES.get(source_kind(data.source))(data)
