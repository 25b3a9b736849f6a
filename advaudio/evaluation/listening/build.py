"""Builds a blind listening test: loudness-matched excerpts, opaque names, a page and a key.

`build(run_dirs, out)` writes into `out`:

    index.html, app.js, style.css   the page (test data embedded; opens from disk too)
    test.json                       the same public test data, for the server's checks
    audio/<opaque id>.wav           one file per stimulus, PCM_16, mono
    key.json                        stimulus id -> condition; `serve` never serves it
    results/                        where `serve` stores submissions

To hand the folder to listeners for use from disk (no server), leave key.json out.

Conditions are the runs (named after their experiment). Each rating trial holds
one excerpt of every condition, the hidden real excerpt (upper anchor, from
RUN_DIR/reference/test.wav) and a lower anchor (the same real excerpt
low-passed, or loudness-matched white noise). AB trials pair two conditions
(or the single condition with the real excerpt). Loudness matching is by RMS
over the faded excerpt (no K-weighting, no gating): every excerpt gets the same
RMS, lowered for all alike if one would otherwise clip.
"""
from __future__ import annotations

import dataclasses
import itertools
import json
import secrets
import shutil
from importlib import resources
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy import signal

from advaudio import config as config_lib

FORMAT = "advaudio-listen/1"
PAGE_FILES = ("app.js", "style.css")  # copied as they are; index.html is filled in
TARGET_RMS_DBFS = -26.0  # common loudness of all excerpts, lowered if one would clip
PEAK_CEILING = 0.98  # largest absolute sample allowed after the gain
SILENCE_RMS = 1e-5  # below this an excerpt is silent and keeps its level
FADE_SECONDS = 0.01  # raised-cosine fade in and out, so no excerpt starts with a click
LOWPASS_HZ = 3500.0  # BS.1534's low-pass anchor (LPA3.5)
LOWPASS_MAX_FRACTION = 0.25  # cutoff never above a quarter of the sample rate
LOWPASS_ORDER = 8
MIN_EXCERPT_SECONDS = 0.25
REFERENCE = "reference"  # condition name of the hidden real excerpt
ANCHOR = "anchor"  # condition name of the lower anchor
ID_BYTES = 8  # opaque ids: 16 hex digits from `secrets`


class BuildError(ValueError):
    """Runs that cannot make a fair test; the message says why."""


@dataclasses.dataclass
class Condition:
    """One run: its name, folder and generated samples."""

    name: str
    run_dir: Path
    samples: list[Path]
    sample_rate: int
    fingerprint: str | None


def rms(audio: np.ndarray) -> float:
    """Root mean square of `audio[samples]`: sqrt(mean(x^2))."""
    return float(np.sqrt(np.mean(np.square(audio, dtype=np.float64)))) if audio.size else 0.0


def fade(audio: np.ndarray, sample_rate: int, seconds: float = FADE_SECONDS) -> np.ndarray:
    """`audio[samples]` with a raised-cosine fade of `seconds` at both ends."""
    out = np.asarray(audio, dtype=np.float64).copy()
    n = min(int(round(seconds * sample_rate)), len(out) // 2)
    if n > 0:
        ramp = 0.5 - 0.5 * np.cos(np.pi * np.arange(n) / n)
        out[:n] *= ramp
        out[len(out) - n:] *= ramp[::-1]
    return out


def match_loudness(excerpts: list[np.ndarray], target_dbfs: float = TARGET_RMS_DBFS,
                   peak_ceiling: float = PEAK_CEILING) -> tuple[list[np.ndarray], list[float | None]]:
    """Scales every excerpt to one common RMS.

    The common RMS is `10 ** (target_dbfs / 20)`, lowered for all excerpts
    alike until none peaks above `peak_ceiling`. Silent excerpts (RMS below
    `SILENCE_RMS`) are returned unchanged.

    Returns:
        (scaled excerpts, gain in dB of each; None for a silent excerpt).
    """
    target = 10.0 ** (target_dbfs / 20.0)
    levels = [rms(x) for x in excerpts]
    for x, level in zip(excerpts, levels, strict=True):
        if level >= SILENCE_RMS:
            peak = float(np.max(np.abs(x)))
            target = min(target, peak_ceiling * level / peak)
    scaled, gains = [], []
    for x, level in zip(excerpts, levels, strict=True):
        if level < SILENCE_RMS:
            scaled.append(np.asarray(x, dtype=np.float64))
            gains.append(None)
        else:
            scaled.append(np.asarray(x, dtype=np.float64) * (target / level))
            gains.append(20.0 * np.log10(target / level))
    return scaled, gains


def lowpass(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """`audio[samples]` through a zero-phase Butterworth low-pass at the anchor cutoff."""
    cutoff = min(LOWPASS_HZ, LOWPASS_MAX_FRACTION * sample_rate)
    sos = signal.butter(LOWPASS_ORDER, cutoff, btype="low", fs=sample_rate, output="sos")
    return signal.sosfiltfilt(sos, audio)


def read_mono(path: Path) -> tuple[np.ndarray, int]:
    """Reads an audio file as float64 mono `[samples]` and its sample rate."""
    audio, sample_rate = sf.read(str(path), dtype="float64", always_2d=True)
    return audio.mean(axis=1), int(sample_rate)


def load_condition(run_dir: Path) -> Condition:
    """Reads a run folder's name, samples (not samples/seeds/) and data fingerprint."""
    run_dir = Path(run_dir)
    config_path = run_dir / "config.json"
    if not config_path.is_file():
        raise BuildError(f"{run_dir} is not a run folder: it has no config.json")
    name = config_lib.load_json(config_path).name
    samples = sorted(p for p in (run_dir / "samples").glob("*.wav") if p.is_file())
    samples += sorted(p for p in (run_dir / "samples").glob("*.flac") if p.is_file())
    if not samples:
        raise BuildError(f"{run_dir} has no generated samples in {run_dir / 'samples'}")
    rates = {sf.info(str(p)).samplerate for p in samples}
    if len(rates) != 1:
        raise BuildError(f"{run_dir}: samples have different sample rates {sorted(rates)}")
    fingerprint = None
    if (run_dir / "data.json").is_file():
        fingerprint = json.loads((run_dir / "data.json").read_text()).get("fingerprint")
    return Condition(name, run_dir, samples, rates.pop(), fingerprint)


def _name_conditions(conditions: list[Condition]) -> None:
    """Makes names unique (experiment/run-folder) and keeps them off the reserved names."""
    counts: dict[str, int] = {}
    for c in conditions:
        counts[c.name] = counts.get(c.name, 0) + 1
    for c in conditions:
        if counts[c.name] > 1 or c.name in (REFERENCE, ANCHOR):
            c.name = f"{c.name}/{c.run_dir.name}"
    names = [c.name for c in conditions]
    if len(set(names)) != len(names):
        raise BuildError(f"the same run folder is given twice: {names}")


def _excerpt(audio: np.ndarray, length: int, rng: np.random.Generator) -> tuple[np.ndarray, int]:
    start = int(rng.integers(0, len(audio) - length + 1))
    return audio[start:start + length], start


def _new_id(taken: set[str]) -> str:
    while True:
        stimulus_id = secrets.token_hex(ID_BYTES)
        if stimulus_id not in taken:
            taken.add(stimulus_id)
            return stimulus_id


def _page_text(name: str) -> str:
    return resources.files("advaudio.evaluation.listening").joinpath("page", name).read_text(encoding="utf-8")


def embed_json(data: dict) -> str:
    """JSON safe inside a <script> element (no `</script>`, no `<!--`)."""
    return json.dumps(data, sort_keys=True).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def build(run_dirs: list[str | Path], out: str | Path, excerpt_seconds: float = 5.0,
          trials: int | None = None, seed: int = 0, ab_per_pair: int = 1,
          lower_anchor: str = "lowpass", force: bool = False) -> dict:
    """Writes a blind listening test for `run_dirs` into `out`.

    Args:
        run_dirs: run folders; their samples are the conditions. The hidden
            real excerpt comes from the first run's reference/test.wav.
        out: the test folder (must be empty or absent unless `force`).
        excerpt_seconds: excerpt length; shortened to the shortest audio.
        trials: rating trials (None: as many as the most samples of any run).
        seed: chooses samples and excerpt positions (ids are always random).
        ab_per_pair: AB trials per pair of conditions.
        lower_anchor: "lowpass" (the real excerpt low-passed) or "noise".
        force: overwrite a folder that already holds a test (its results/
            are kept; `analyze` tells them apart by test id).

    Returns:
        The key (also written to out/key.json).
    """
    if lower_anchor not in ("lowpass", "noise"):
        raise BuildError(f"lower_anchor must be 'lowpass' or 'noise', not {lower_anchor!r}")
    if not run_dirs:
        raise BuildError("give at least one run folder")
    if trials is not None and trials < 1:
        raise BuildError(f"trials must be at least 1, not {trials}")
    if ab_per_pair < 0:
        raise BuildError(f"ab_per_pair must be 0 or more, not {ab_per_pair}")
    conditions = [load_condition(Path(r)) for r in run_dirs]
    _name_conditions(conditions)
    reference_path = Path(run_dirs[0]) / "reference" / "test.wav"
    if not reference_path.is_file():
        raise BuildError(f"{reference_path} is missing: the hidden real excerpt is cut from it")
    reference, sample_rate = read_mono(reference_path)
    rates = {c.name: c.sample_rate for c in conditions}
    if any(rate != sample_rate for rate in rates.values()):
        raise BuildError(f"runs have different sample rates {rates} (reference: {sample_rate} Hz); "
                         "compare runs trained on the same data")
    prints = {c.name: c.fingerprint for c in conditions if c.fingerprint}
    if len(set(prints.values())) > 1:
        raise BuildError(f"runs used different data (fingerprints {prints}); compare runs trained on the same data")

    sample_audio = {c.name: [read_mono(p)[0] for p in c.samples] for c in conditions}
    shortest = min([len(reference)] + [len(a) for audios in sample_audio.values() for a in audios])
    length = min(int(round(excerpt_seconds * sample_rate)), shortest)
    if length < MIN_EXCERPT_SECONDS * sample_rate:
        raise BuildError(f"the shortest audio has {shortest / sample_rate:.3f} s; "
                         f"excerpts need at least {MIN_EXCERPT_SECONDS} s")

    out = Path(out)
    if out.exists() and any(out.iterdir()) and not force:
        raise BuildError(f"{out} is not empty; choose a new folder or pass --force")
    if out.exists() and force:
        shutil.rmtree(out / "audio", ignore_errors=True)  # results/ stays: submissions are never deleted
    (out / "audio").mkdir(parents=True, exist_ok=True)
    (out / "results").mkdir(exist_ok=True)

    rng = np.random.default_rng(seed)
    n_trials = trials if trials is not None else max(len(c.samples) for c in conditions)
    taken: set[str] = set()
    key_stimuli: dict[str, dict] = {}
    public_trials: list[dict] = []
    rating_ids: list[dict[str, str]] = []  # per rating trial: condition -> stimulus id
    for t in range(n_trials):
        parts, meta = [], []
        for c in conditions:
            index = t % len(c.samples)
            cut, start = _excerpt(sample_audio[c.name][index], length, rng)
            parts.append(cut)
            meta.append({"condition": c.name, "role": "condition", "source": str(c.samples[index]),
                         "start_seconds": start / sample_rate})
        real, start = _excerpt(reference, length, rng)
        parts.append(real)
        meta.append({"condition": REFERENCE, "role": "hidden_reference", "source": str(reference_path),
                     "start_seconds": start / sample_rate})
        if lower_anchor == "lowpass":
            parts.append(lowpass(real, sample_rate))
            meta.append({"condition": ANCHOR, "role": "lower_anchor", "source": str(reference_path),
                         "start_seconds": start / sample_rate,
                         "processing": f"low-pass {min(LOWPASS_HZ, LOWPASS_MAX_FRACTION * sample_rate):g} Hz"})
        else:
            parts.append(rng.standard_normal(length))
            meta.append({"condition": ANCHOR, "role": "lower_anchor", "source": None,
                         "start_seconds": None, "processing": "white noise"})
        parts = [fade(p, sample_rate) for p in parts]
        scaled, gains = match_loudness(parts)
        trial_id = f"r{t + 1:02d}"
        ids = {}
        stimuli = list(zip(scaled, gains, meta, strict=True))
        secrets.SystemRandom().shuffle(stimuli)  # file times must not tell the conditions apart either
        for audio, gain, info in stimuli:
            stimulus_id = _new_id(taken)
            sf.write(str(out / "audio" / f"{stimulus_id}.wav"), audio.astype("float32"), sample_rate,
                     subtype="PCM_16")
            key_stimuli[stimulus_id] = {**info, "trial": trial_id, "gain_db": gain, "silent": gain is None}
            ids[info["condition"]] = stimulus_id
        rating_ids.append(ids)
        public_trials.append({"id": trial_id, "type": "rating", "stimuli": sorted(ids.values())})

    names = [c.name for c in conditions]
    pairs = list(itertools.combinations(names, 2)) if len(names) > 1 else [(names[0], REFERENCE)]
    key_trials = {t["id"]: {"type": "rating", "stimuli": t["stimuli"]} for t in public_trials}
    ab = 0
    for _ in range(ab_per_pair):
        for first, second in pairs:
            ids = rating_ids[ab % n_trials]  # AB trials reuse the rating excerpts, in turn
            ab += 1
            trial_id = f"ab{ab:02d}"
            public_trials.append({"id": trial_id, "type": "ab", "stimuli": sorted([ids[first], ids[second]])})
            key_trials[trial_id] = {"type": "ab", "conditions": [first, second],
                                    "stimuli": [ids[first], ids[second]]}

    test_id = secrets.token_hex(ID_BYTES)
    public = {
        "format": FORMAT,
        "test_id": test_id,
        "trials": public_trials,
        "audio": {sid: f"audio/{sid}.wav" for sid in sorted(key_stimuli)},
        "scale": ["Bad", "Poor", "Fair", "Good", "Excellent"],
    }
    key = {
        "format": FORMAT,
        "test_id": test_id,
        "conditions": names,
        "reference": REFERENCE,
        "anchor": ANCHOR,
        "runs": {c.name: str(c.run_dir) for c in conditions},
        "sample_rate": sample_rate,
        "excerpt_seconds": length / sample_rate,
        "seed": seed,
        "lower_anchor": lower_anchor,
        "loudness": {"method": "rms", "target_dbfs": TARGET_RMS_DBFS, "peak_ceiling": PEAK_CEILING},
        "trials": key_trials,
        "stimuli": key_stimuli,
    }
    (out / "test.json").write_text(json.dumps(public, indent=1, sort_keys=True) + "\n")
    (out / "key.json").write_text(json.dumps(key, indent=1, sort_keys=True) + "\n")
    page = _page_text("index.html").replace("__TEST_DATA__", embed_json(public))
    (out / "index.html").write_text(page, encoding="utf-8")
    for name in PAGE_FILES:
        (out / name).write_text(_page_text(name), encoding="utf-8")
    silent = [s for s, info in key_stimuli.items() if info["silent"]]
    if silent:
        print(f"warning: {len(silent)} excerpt(s) are silent and could not be loudness-matched "
              f"(see 'silent' in {out / 'key.json'})")
    return key
