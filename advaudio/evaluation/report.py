"""Compares run folders: one metric table, spectrograms, learning curves, loudness and one HTML report.

Run: python -m advaudio.compare runs/mse/* runs/gan_denoise/* --out compare/ [--reference train] [--per-run]
Runs of the same experiment (same name and config apart from train.seed) are grouped: each metric is
reported as the mean over seeds with a 95% t interval. Reads only run folders (config.json, data.json,
log.csv, reference/, samples/).
"""
from __future__ import annotations

import argparse
import base64
import csv
import html
import io
import json
import math
import sys
from copy import deepcopy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import soundfile as sf

from advaudio.evaluation import metrics, targets

REAL_LABEL = "real"
TABLE_COLUMNS: tuple[str, ...] = ("run", "seeds", "samples") + metrics.METRIC_KEYS
# The half-width of the 95% t interval over seeds of metric K is column K + CI_SUFFIX (blank for one seed).
CI_SUFFIX = "_ci95"
CI_LEVEL = 0.95
CSV_COLUMNS: tuple[str, ...] = ("run", "seeds", "samples") + tuple(
    column for key in metrics.METRIC_KEYS for column in (key, key + CI_SUFFIX)
)
# Panels of the spread plot: the headline distribution metrics, then the collapse and speed checks.
SPREAD_METRICS: tuple[str, ...] = metrics.DISTRIBUTION_METRICS + (
    "frame_repetition", "seam_ratio", "hop_pulse_db", "hop_periodicity", "flatness_ratio", "pitch_ratio",
    "onset_rate_ratio", "onset_locking",
)
# Spectrogram of the plots, in samples.
SPECTROGRAM_FFT_SIZE = 1024
SPECTROGRAM_HOP_LENGTH = 256
SPECTROGRAM_RANGE_DB = 80.0

METRIC_HELP = {
    "duration_s": "length of the output (s)",
    "mr_stft": "multi-resolution STFT distance of average spectra (sc + logmag; 0 = same spectrum)",
    "mr_stft_sc": "spectral convergence part of mr_stft",
    "mr_stft_logmag": "log-magnitude L1 part of mr_stft",
    "lsd_db": "log-spectral distance of average power spectra (dB)",
    "flatness": "spectral flatness of the output (0 tonal .. 0.56 white noise)",
    "flatness_data": "spectral flatness of the held-out data",
    "flatness_ratio": "noisiness: flatness output / data (1 ideal, >> 1 noise)",
    "loudness_db": "RMS loudness of the output (dBFS)",
    "loudness_data_db": "RMS loudness of the held-out data (dBFS)",
    "loudness_drop_db": "fade: loudness of the first quarter minus the last quarter (dB; 0 steady)",
    "silence_onset_s": "time the output falls silent for good (s; blank = never)",
    "seed_copy": "highest normalised cross-correlation with the seed (1 = copy)",
    "train_copy": "highest normalised cross-correlation with training audio (1 = copy)",
    "pitch_hz": "dominant pitch of the output (Hz)",
    "pitch_data_hz": "dominant pitch of the data (Hz)",
    "pitch_ratio": "speed: dominant pitch output / data (1 ideal)",
    "onset_rate": "rhythm: attacks per second of the output (noise and attack-free audio have none)",
    "onset_rate_data": "onsets per second of the data",
    "onset_rate_ratio": "speed: onset rate output / data (1 ideal; - when the data has no rhythm, e.g. a drone)",
    "frechet_mfcc": "Frechet distance of MFCC statistics, loudness-matched, no c0 (0 ideal; biased upwards at small "
    "sample sizes and blind to time reversal)",
    "frechet_mfcc_inf": "Frechet distance of MFCC + delta statistics, extrapolated to infinite sample size "
    "(FAD-infinity; 0 ideal, may dip below 0 within noise)",
    "kid_mfcc": "kernel distance (KID: unbiased MMD^2, cubic polynomial kernel) of standardised MFCC + delta "
    "frames (0 ideal, may dip below 0 within noise)",
    "seam_ratio": "jump across frame boundaries / jump inside frames (1 = no clicks)",
    "frame_repetition": "mean cosine similarity of consecutive frames (1 = frozen loop)",
    "frame_repetition_data": "the same measure on the data",
    "hop_pulse_db": "pulsing at the frame rate: depth of the power profile folded at the frame hop (dB; ~0 steady)",
    "hop_pulse_data_db": "the same measure on the data (music on a beat that divides into hops reads high too)",
    "onset_locking": "onsets at one place of the frame grid: vector strength of their phase in the hop (1 = all at "
    "one place, ~1/sqrt(onsets) for music)",
    "onset_locking_data": "the same measure on the data (a beat locked to the hop reads high too)",
    "hop_periodicity": "share of the power in a waveform repeated exactly every frame hop, in windows of 8 hops "
    "(1 = frozen; ~0.125 noise; tones on the grid of sample_rate / hop Hz read high)",
    "hop_periodicity_data": "the same measure on the data",
}


class CompareError(ValueError):
    """Runs that cannot be compared; the message names the runs and the differing values."""


@dataclass
class Run:
    """One run folder as the comparison sees it (`path`: the run folder, or a samples folder in it)."""

    path: Path
    label: str
    config: dict
    data: dict  # data.json, or {} when the run has none
    sample_rate: int
    fingerprint: str | None
    rows: list[dict] = field(default_factory=list)
    log: dict[str, list[float]] = field(default_factory=dict)
    samples: str = metrics.SAMPLES  # the name of the samples folder scored (another when a samples folder is given)


# ----------------------------------------------------------------------------- loading and checks


def load_run(path: str | Path) -> Run:
    """Reads a run folder's config.json and data.json; raises RunFolderError if it is unusable."""
    path = Path(path)
    metrics.check_run_dir(path)
    run_dir, samples = metrics.locate(path)
    config = json.loads((run_dir / "config.json").read_text())
    data_file = run_dir / "data.json"
    data = json.loads(data_file.read_text()) if data_file.is_file() else {}
    sample_rate = int(data.get("sample_rate") or config.get("data", {}).get("sample_rate") or 0)
    if sample_rate <= 0:
        raise metrics.RunFolderError(f"{path}: neither data.json nor config.json gives a sample rate")
    label = f"{run_dir.parent.name}/{run_dir.name}"
    return Run(
        path=path,
        label=label if samples.name == metrics.SAMPLES else f"{label}/{samples.name}",
        samples=samples.name,
        config=config,
        data=data,
        sample_rate=sample_rate,
        fingerprint=data.get("fingerprint"),
        log=read_log_columns(run_dir / "log.csv"),
    )


def check_compatible(runs: list[Run], warn: Callable[[str], None] | None = None) -> None:
    """Refuses runs that used different data or sample rates.

    Raises:
        CompareError: naming both runs and the differing values.
    """
    first = runs[0]
    for other in runs[1:]:
        if other.sample_rate != first.sample_rate:
            raise CompareError(
                f"refusing to compare {first.path} and {other.path}: different sample rates "
                f"({first.sample_rate} Hz vs {other.sample_rate} Hz); compare runs trained on the same data"
            )
        if first.fingerprint is not None and other.fingerprint is not None:
            if other.fingerprint != first.fingerprint:
                raise CompareError(
                    f"refusing to compare {first.path} and {other.path}: different data "
                    f"(data.json fingerprint {first.fingerprint} vs {other.fingerprint}; "
                    f"source {first.data.get('source')!r} vs {other.data.get('source')!r}); "
                    f"compare runs trained on the same data"
                )
            continue
        source_a = first.data.get("source", first.config.get("data", {}).get("source"))
        source_b = other.data.get("source", other.config.get("data", {}).get("source"))
        if source_a != source_b:
            raise CompareError(
                f"refusing to compare {first.path} and {other.path}: different data sources "
                f"({source_a!r} vs {source_b!r}; no data.json fingerprint to compare)"
            )
        if warn is not None:
            missing = first.path if first.fingerprint is None else other.path
            warn(f"warning: {missing} has no data.json fingerprint; assuming the same data (same source {source_a!r})")


@dataclass
class Group:
    """Runs of one experiment: the same experiment name and config apart from train.seed."""

    label: str
    runs: list[Run]


def _source_config(config: dict) -> dict | None:
    """The config.json of a revision run's source run (`revise.from_run`); None when there is no source or its
    folder can no longer be read."""
    source = (config.get("revise") or {}).get("from_run")
    if source is None:
        return None
    try:
        return json.loads((Path(source) / "config.json").read_text())
    except (OSError, ValueError):
        return None


def run_seed(run: Run):
    """train.seed from the run's config.json (None when it does not say). A revision run over a finished run
    (`revise.from_run`) is one seed of its source experiment: its seed is the source run's train.seed."""
    source = _source_config(run.config)
    config = source if source is not None else run.config
    return config.get("train", {}).get("seed")


def _experiment_config(config: dict) -> dict:
    """`config` without train.seed, keys an older run folder lacks at today's defaults
    (`config.with_defaults`); a revision run's `revise.from_run` path is replaced by its source run's
    config without train.seed, so revisions of the seeds of one experiment are one experiment too."""
    from advaudio.config import with_defaults

    config = with_defaults(deepcopy(config))
    config.get("train", {}).pop("seed", None)
    source = _source_config(config)
    if source is not None:
        config["revise"]["from_run"] = _experiment_config(source)
    return config


def group_key(run: Run) -> str:
    """The run's config.json without train.seed, and the samples folder scored, as canonical JSON: equal keys
    mean the same experiment (samples in another folder, e.g. without the revision pass, are another group).

    Revision runs over finished runs (`revise.from_run`) are keyed by their source run's experiment, not its
    folder: the passes trained over the three seeds of one generator experiment form one group."""
    key = _experiment_config(run.config)
    if run.samples != metrics.SAMPLES:
        key["samples_folder"] = run.samples
    return json.dumps(key, sort_keys=True)


def group_runs(runs: list[Run]) -> list[Group]:
    """Groups runs by `group_key`, in order of first appearance.

    A group is labelled with its experiment name; experiments that share a
    name but differ in config get "name (config 2)", "name (config 3)", ...
    """
    by_key: dict[str, Group] = {}
    for run in runs:
        key = group_key(run)
        if key not in by_key:
            label = str(run.config.get("name") or metrics.locate(run.path)[0].parent.name)
            by_key[key] = Group(label=label if run.samples == metrics.SAMPLES else f"{label} [{run.samples}]", runs=[])
        by_key[key].runs.append(run)
    groups = list(by_key.values())
    seen: dict[str, int] = {REAL_LABEL: 1}
    for group in groups:
        count = seen.get(group.label, 0)
        seen[group.label] = count + 1
        if count:
            group.label = f"{group.label} (config {count + 1})"
    return groups


def mean_interval(values: list[float], level: float = CI_LEVEL) -> tuple[float | None, float | None]:
    """(mean, half-width of the two-sided Student t interval at `level`) over `values`.

        half = t_{(1 + level) / 2, n - 1} * s / sqrt(n),   s the sample standard deviation (ddof 1)

    (None, None) without values; (value, None) for one value: one run has no interval.
    """
    import scipy.stats

    values = [float(v) for v in values]
    if not values:
        return None, None
    mean = float(np.mean(values))
    if len(values) < 2:
        return mean, None
    quantile = float(scipy.stats.t.ppf((1.0 + level) / 2.0, len(values) - 1))
    return mean, quantile * float(np.std(values, ddof=1)) / math.sqrt(len(values))


def unique_labels(runs: list[Run]) -> None:
    """Makes run labels unique (and different from "real") by appending #2, #3, ..."""
    seen: dict[str, int] = {REAL_LABEL: 1}
    for run in runs:
        base = run.label
        count = seen.get(base, 0)
        if count:
            run.label = f"{base} #{count + 1}"
        seen[base] = count + 1


def read_log_columns(path: Path) -> dict[str, list[float]]:
    """log.csv -> {column: values}; non-numbers become NaN; {} when there is no log (training.read_log_rows gives rows)."""
    if not path.is_file():
        return {}
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        columns: dict[str, list[float]] = {name: [] for name in reader.fieldnames or []}
        for record in reader:
            for name in columns:
                try:
                    columns[name].append(float(record.get(name) or "nan"))
                except ValueError:
                    columns[name].append(float("nan"))
    return columns


# ----------------------------------------------------------------------------- scoring


def summarize(rows: list[dict]) -> dict[str, float | None]:
    """Mean of every metric over samples, ignoring samples where it is undefined (None)."""
    summary: dict[str, float | None] = {}
    for key in metrics.METRIC_KEYS:
        values = [row[key] for row in rows if row.get(key) is not None]
        summary[key] = float(np.mean(values)) if values else None
    return summary


def first_frames(run: Run) -> tuple[int, int]:
    """(frame_length, frame_hop) of a run, from its first sample's sidecar or its config."""
    sidecar_path = metrics.sample_paths(run.path)[0].with_suffix(".json")
    sidecar = json.loads(sidecar_path.read_text()) if sidecar_path.is_file() else {}
    return metrics.run_frames(run.path, sidecar)


def sample_length(runs: list[Run]) -> int:
    """The median length in samples of the runs' generated samples."""
    return int(np.median([sf.info(str(p)).frames for run in runs for p in metrics.sample_paths(run.path)]))


def score_real(run: Run, excerpt: np.ndarray, reference: np.ndarray | metrics.ReferenceProfile) -> dict[str, float | None]:
    """The real baseline: an unseen excerpt (`metrics.unseen_excerpt`) scored against the same reference as the samples."""
    train_path = metrics.reference_path(run.path, "train")
    train = metrics.read_audio(train_path)[0] if train_path is not None else None
    frame_length, frame_hop = first_frames(run)
    return metrics.evaluate_audio(
        excerpt, reference, run.sample_rate, frame_length, frame_hop, train_reference=train,
    )


def group_rows(groups: list[Group]) -> list[dict]:
    """One row per group: each metric's mean over seeds (of each run's mean over its samples) and the
    half-width of its 95% t interval (`mean_interval`; None for one seed)."""
    rows = []
    for group in groups:
        summaries = [summarize(run.rows) for run in group.runs]
        row: dict = {"run": group.label, "seeds": len(group.runs), "samples": sum(len(run.rows) for run in group.runs)}
        for key in metrics.METRIC_KEYS:
            row[key], row[key + CI_SUFFIX] = mean_interval([s[key] for s in summaries if s[key] is not None])
        rows.append(row)
    return rows


def run_rows(runs: list[Run]) -> list[dict]:
    """One row per run (means over its samples), labelled with its seed (`--per-run`)."""
    return [
        {"run": f"{run.label} (seed {run_seed(run)})", "seeds": 1, "samples": len(run.rows), **summarize(run.rows)}
        for run in runs
    ]


def table_rows(groups: list[Group], real: dict | None, per_run: bool = False) -> list[dict]:
    """The group rows, then (`per_run`) every run's row, then, optionally, the real baseline."""
    rows = group_rows(groups)
    if per_run:
        rows += run_rows([run for group in groups for run in group.runs])
    if real is not None:
        rows.append({"run": REAL_LABEL, "seeds": None, "samples": 1, **real})
    return rows


def target_columns(groups: list[Group], real: dict | None, per_run: bool = False) -> list[tuple[str, dict]]:
    """The columns of the targets table (`targets.markdown`): each group judged on its mean over seeds, with
    the seeds that meet each target; then (`per_run`) each run; then the real excerpt, judged like a run."""
    columns = [(row["run"], targets.judge_group(row, [summarize(run.rows) for run in group.runs], real))
               for group, row in zip(groups, group_rows(groups))]
    if per_run:
        columns += [(row["run"], targets.judge_run(row, real))
                    for row in run_rows([run for group in groups for run in group.runs])]
    if real is not None:
        columns.append((REAL_LABEL, targets.judge_run(real, real)))
    return columns


TARGETS_NOTE = (
    "Issue #13's targets, judged on each run's mean over its samples and on each group's mean over seeds "
    "(k/n seeds: the seeds that meet it); bold: met; n/a: undefined on this data (e.g. the onset-rate ratio of "
    "data without rhythm) or without a real row. The MFCC edges are 3x the real excerpt's value. The loudness "
    "targets are judged over the samples' length; issue #13 asks for 120 s (python -m advaudio.generate RUN "
    "--seconds 120 --out RUN/samples-120s, then compare RUN/samples-120s). A target the real excerpt itself "
    "misses (the dominant-pitch ratio of chords, for one) cannot rank generators on this data."
)


def targets_html(columns: list[tuple[str, dict]]) -> str:
    """The targets table as HTML: met cells green, missed red, undefined grey."""
    colours = {True: "#d8f0d8", False: "#f6d6d6", None: "#eeeeee"}
    head = "<th>target</th>" + "".join(f"<th>{html.escape(label)}</th>" for label, _ in columns)
    body = []
    for target in targets.TARGETS:
        cells = []
        for _, verdicts in columns:
            verdict = verdicts[target.metric]
            text = targets.cell_text(target, verdict, emphasis="")
            cells.append(f'<td style="background:{colours[verdict.met]}">{html.escape(text)}</td>')
        body.append(f"<tr><td>{html.escape(target.label)}</td>{''.join(cells)}</tr>")
    totals = "".join("<td><b>{} of {}</b></td>".format(*targets.count_met(v)) for _, v in columns)
    body.append(f"<tr><td><b>targets met</b></td>{totals}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


# Frame hops tried, as factors of the run's, for a grid the reference's rhythm does not share (`off_grid_hop`).
OFF_GRID_FACTORS = (1.2, 0.8, 1.1, 0.9, 1.3, 0.7, 1.4, 0.6)


def off_grid_hop(reference: metrics.ReferenceProfile, frame_hop: int) -> tuple[int, float] | None:
    """The hop among `frame_hop` x `OFF_GRID_FACTORS` to which the reference's onsets lock least, and that
    `onset_locking` (the first such hop on a tie), or None when the reference has no onsets to lock. A run trained
    on it tells a generator's frame grid from the music's rhythm: on `machine_wars.mp3` (120 BPM, 4 hops of 2000)
    this picks 2200 (the music's locking 0.01); on the hop of 2400 (0.02) the flagship's onsets read 0.91-0.94
    (README, eighteenth session)."""
    hops = [int(round(frame_hop * factor)) for factor in OFF_GRID_FACTORS]
    lockings = [reference.onset_locking(hop) for hop in hops]
    if any(locking is None for locking in lockings):
        return None
    best = int(np.argmin(lockings))
    return hops[best], float(lockings[best])


def grid_note(reference: metrics.ReferenceProfile, frame_hop: int, frame_length: int | None = None) -> str | None:
    """A caveat when the reference's own onsets lock to the frame hop (`metrics.onset_locking` of at least
    `metrics.GRID_LOCKED`), else None: music that beats in whole hops (120 BPM at 16 kHz is 4 hops of 2000)
    puts its onsets where a generator's frame grid puts them, so the grid metrics rank nothing on it. The caveat
    names the `off_grid_hop` to train with instead (and a frame length in the run's proportion, when given)."""
    locking = reference.onset_locking(frame_hop)
    if locking is None or locking < metrics.GRID_LOCKED:
        return None
    sample_rate = reference.sample_rate
    beat = reference.beat_period()
    where = "" if beat is None else (
        f"; its beat is {beat[0]} samples ({60.0 * sample_rate / beat[0]:.1f} BPM), {beat[0] / frame_hop:.2f} hops")
    off_grid = off_grid_hop(reference, frame_hop)
    if off_grid is None:
        retrain = "train with another data.frame_hop"
    else:
        hop, off_locking = off_grid
        length = "" if frame_length is None else f" --set data.frame_length={int(round(frame_length * hop / frame_hop))}"
        retrain = (f"train with a hop the rhythm does not share: --set data.frame_hop={hop}{length} "
                   f"(the reference's onset_locking on that grid: {off_locking:.2f})")
    return (
        f"The reference's own onsets lock to the {frame_hop}-sample frame hop (onset_locking {locking:.2f}{where}). "
        "On this data onset_locking and hop_pulse_db cannot tell a generator's frame grid from the music's rhythm: "
        "read them against the data's values. To tell them apart, test on music whose beat is not a whole number "
        f"of hops, or {retrain}."
    )


def ranking_rows(ranked: dict[str, dict[str, float | None]]) -> list[dict]:
    """Per known failure: each distribution metric's score and whether real audio scores lower (ranks it)."""
    real = ranked[REAL_LABEL]
    rows = []
    for failure in metrics.KNOWN_FAILURES:
        row: dict = {"failure": failure}
        for key in metrics.DISTRIBUTION_METRICS:
            value, baseline = ranked[failure][key], real[key]
            row[key] = value
            row[key + "_ranks"] = metrics.ranks_below(baseline, value)
        rows.append(row)
    return rows


def ranking_markdown(ranked: dict[str, dict[str, float | None]], excerpt_note: str) -> str:
    """Which distribution metric ranks which known failure below the real excerpt, on this data."""
    rows = ranking_rows(ranked)
    header = ["failure"] + list(metrics.DISTRIBUTION_METRICS)
    lines = [
        f"Known failures made from the real excerpt ({excerpt_note}), scored against the same reference. "
        f"A metric ranks a failure when real audio scores lower (better) by more than {metrics.RANK_TOLERANCE:.0%} "
        "(closer is a tie); read a metric only for the failures it ranks here.",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
        "| real | " + " | ".join(_format(ranked[REAL_LABEL][k], 4) for k in metrics.DISTRIBUTION_METRICS) + " |",
    ]
    for row in rows:
        cells = [f"{_format(row[k], 4)} {'ranks' if row[k + '_ranks'] else 'CANNOT RANK'}" for k in metrics.DISTRIBUTION_METRICS]
        lines.append(f"| {row['failure']} | " + " | ".join(cells) + " |")
    lines.append("")
    for key in metrics.DISTRIBUTION_METRICS:
        ranked_here = [row["failure"] for row in rows if row[key + "_ranks"]]
        missed = [row["failure"] for row in rows if not row[key + "_ranks"]]
        lines.append(f"- {key}: headlined for {', '.join(ranked_here) or 'nothing'}"
                     + (f"; cannot rank {', '.join(missed)} on this data" if missed else ""))
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------- tables


def _format(value, digits: int) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.{digits}g}"
    return str(value)


def _cell(row: dict, column: str, digits: int) -> str:
    """A value, with " ± half-width" when the row has a 95% interval for it."""
    text = _format(row.get(column), digits)
    half = row.get(column + CI_SUFFIX)
    return f"{text} ± {_format(half, 2)}" if half is not None and text else text


def write_csv(rows: list[dict], path: Path, columns: tuple[str, ...] = CSV_COLUMNS) -> None:
    """Writes rows with full precision (repr of floats); undefined values are empty cells."""
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for row in rows:
            writer.writerow([repr(row.get(c)) if isinstance(row.get(c), float) else _format(row.get(c), 17) for c in columns])


def markdown_table(rows: list[dict], columns: tuple[str, ...] = TABLE_COLUMNS) -> str:
    """A Markdown table, numbers to 4 significant digits, undefined values blank."""
    lines = ["| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(_cell(row, c, 4) for c in columns) + " |")
    return "\n".join(lines) + "\n"


def html_table(rows: list[dict], columns: tuple[str, ...] = TABLE_COLUMNS) -> str:
    head = "".join(
        f'<th title="{html.escape(METRIC_HELP.get(c, c))}">{html.escape(c)}</th>' for c in columns
    )
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_cell(row, c, 4))}</td>" for c in columns) + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


# ----------------------------------------------------------------------------- plots


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_spectrograms(items: list[tuple[str, np.ndarray]], sample_rate: int, path: Path, max_seconds: float) -> None:
    """One row per (label, audio): dB magnitude spectrogram of the first `max_seconds`."""
    plt = _pyplot()
    fft_size, hop_length = SPECTROGRAM_FFT_SIZE, SPECTROGRAM_HOP_LENGTH
    fig, axes = plt.subplots(len(items), 1, figsize=(10, 2.2 * len(items)), squeeze=False)
    for ax, (label, audio) in zip(axes[:, 0], items):
        audio = audio[: int(max_seconds * sample_rate)]
        magnitude = metrics.stft_magnitude(audio, fft_size, hop_length, fft_size)
        decibels = 20 * np.log10(np.maximum(magnitude, 1e-6)).T
        top = float(decibels.max())
        seconds = max(audio.size, 1) / sample_rate
        image = ax.imshow(
            decibels,
            origin="lower",
            aspect="auto",
            extent=(0, seconds, 0, sample_rate / 2),
            vmin=top - SPECTROGRAM_RANGE_DB,
            vmax=top,
            cmap="magma",
        )
        ax.set_title(label, fontsize=9)
        ax.set_ylabel("Hz")
        fig.colorbar(image, ax=ax, label="dB")
    axes[-1, 0].set_xlabel("time (s)")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def shared_log_terms(runs: list[Run]) -> list[str]:
    """loss, val_loss, then every other log.csv column present in all runs that have a log."""
    logs = [run.log for run in runs if run.log]
    if not logs:
        return []
    shared = [c for c in logs[0] if c != "epoch" and all(c in log for log in logs[1:])]
    first = [c for c in ("loss", "val_loss") if any(c in log for log in logs)]
    return first + [c for c in shared if c not in first]


PANEL_COLUMNS = 3  # panels per row of the report's multi-panel plots


def _panel_grid(plt, count: int):
    """A figure with `count` panels, `PANEL_COLUMNS` to a row; panels beyond `count` are hidden.

    Returns (figure, axes `[rows, columns]`), the axes in reading order in `axes.flat`.
    """
    columns = min(PANEL_COLUMNS, count)
    rows = math.ceil(count / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(4.5 * columns, 3 * rows), squeeze=False)
    for ax in list(axes.flat)[count:]:
        ax.axis("off")
    return fig, axes


def seed_band(stacked: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean, lowest and highest over seeds of finite values, per epoch; NaN where no seed has one.

    Args:
        stacked: [seeds, epochs] one curve per seed, NaN where a seed logged no value.
    Returns:
        Three [epochs] arrays.
    """
    finite = np.isfinite(stacked)
    count = finite.sum(axis=0)
    seen = count > 0
    mean = np.where(seen, np.where(finite, stacked, 0.0).sum(axis=0) / np.maximum(count, 1), np.nan)
    lowest = np.where(seen, np.where(finite, stacked, np.inf).min(axis=0), np.nan)
    highest = np.where(seen, np.where(finite, stacked, -np.inf).max(axis=0), np.nan)
    return mean, lowest, highest


def plot_compared_curves(runs: list[Run], path: Path, groups: list[Group] | None = None) -> bool:
    """Overlays the log.csv terms, one panel per term; False when no run has a log.

    With `groups`, one line per group: the mean over its seeds, with the
    band between the lowest and highest seed shaded; otherwise one line per run.
    """
    terms = shared_log_terms(runs)
    if not terms:
        return False
    plt = _pyplot()
    fig, axes = _panel_grid(plt, len(terms))
    for ax, term in zip(axes.flat, terms):
        plotted = []
        for label, members in ([(g.label, g.runs) for g in groups] if groups else [(r.label, [r]) for r in runs]):
            curves = [np.asarray(run.log.get(term, []), dtype=float) for run in members]
            curves = [c for c in curves if c.size]
            if not curves:
                continue
            length = min(c.size for c in curves)  # seeds still running have fewer epochs
            stacked = np.stack([c[:length] for c in curves])
            if not np.isfinite(stacked).any():  # a term undefined on this data (e.g. onsets of a drone)
                continue
            source = next(run for run in members if run.log.get(term))
            epochs = np.asarray(source.log.get("epoch", np.arange(1, length + 1)), dtype=float)[:length]
            mean, lowest, highest = seed_band(stacked)
            line = ax.plot(epochs, mean, marker="o", markersize=3,
                           label=f"{label} ({len(curves)} seeds)" if len(curves) > 1 else label)
            if len(curves) > 1:
                ax.fill_between(epochs, lowest, highest, color=line[0].get_color(), alpha=0.2, linewidth=0)
            plotted.append(stacked[np.isfinite(stacked)])
        finite = np.concatenate(plotted) if plotted else np.array([])
        # A log axis only helps when a positive curve spans more than a decade.
        if finite.size and finite.min() > 0 and finite.max() / finite.min() > 10:
            ax.set_yscale("log")
        ax.set_title(term, fontsize=9)
        ax.set_xlabel("epoch")
    axes.flat[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return True


def plot_spread(groups: list[Group], real: dict | None, path: Path) -> bool:
    """One panel per `SPREAD_METRICS` key: every seed's value (dots) and the group mean with its 95%
    interval (bar) per group, and the real baseline (dashed). False when no metric has a value."""
    keys = [k for k in SPREAD_METRICS if any(summarize(r.rows)[k] is not None for g in groups for r in g.runs)]
    if not keys:
        return False
    plt = _pyplot()
    fig, axes = _panel_grid(plt, len(keys))
    for ax, key in zip(axes.flat, keys):
        for x, group in enumerate(groups):
            values = [v for v in (summarize(run.rows)[key] for run in group.runs) if v is not None]
            if not values:
                continue
            ax.plot([x] * len(values), values, "o", color="gray", markersize=4, alpha=0.7)
            mean, half = mean_interval(values)
            ax.errorbar([x], [mean], yerr=None if half is None else [[half], [half]], fmt="s", color="C0",
                        capsize=4, markersize=6)
        if real is not None and real.get(key) is not None:
            ax.axhline(real[key], color="k", linestyle="--", linewidth=0.8, label=REAL_LABEL)
            ax.legend(fontsize=7)
        ax.set_xticks(range(len(groups)), [g.label for g in groups], rotation=20, fontsize=7)
        ax.set_title(key, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return True


def plot_loudness(items: list[tuple[str, np.ndarray]], sample_rate: int, data_db: float, path: Path) -> None:
    """Loudness over time (RMS dBFS per 0.1 s) of each (label, audio), with the data's level."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(10, 3.5))
    for label, audio in items:
        times, loudness = metrics.loudness_curve(audio, sample_rate)
        ends = np.append(times, audio.size / sample_rate)
        ax.stairs(loudness, ends, label=label, linewidth=1, baseline=None)
    ax.axhline(data_db, color="k", linestyle="--", linewidth=0.8, label="data RMS")
    ax.axhline(data_db - 40, color="gray", linestyle=":", linewidth=0.8, label="silence threshold")
    ax.set_xlabel("time (s)")
    ax.set_ylabel("dBFS")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


# ----------------------------------------------------------------------------- HTML report


def wav_data_uri(audio: np.ndarray, sample_rate: int) -> str:
    """16-bit PCM WAV of `audio` [samples] (clipped to [-1, 1]) as a data: URI."""
    buffer = io.BytesIO()
    sf.write(buffer, np.clip(audio, -1.0, 1.0).astype(np.float32), sample_rate, format="WAV", subtype="PCM_16")
    return "data:audio/wav;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def png_data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _player(title: str, audio: np.ndarray, sample_rate: int) -> str:
    return (
        f'<figure><figcaption>{html.escape(title)}</figcaption>'
        f'<audio controls preload="none" src="{wav_data_uri(audio, sample_rate)}"></audio></figure>'
    )


def _describe(run: Run) -> str:
    objective = run.config.get("objective", {})
    weights = objective.get("loss_weights", {})
    return (
        f"objective {objective.get('name')!s}, loss weights {json.dumps(weights)}, "
        f"regime {objective.get('regime')!s}; folder {run.path}"
    )


STYLE = """
body { font-family: sans-serif; margin: 2em; max-width: 1400px; }
table { border-collapse: collapse; font-size: 12px; display: block; overflow-x: auto; }
th, td { border: 1px solid #ccc; padding: 3px 6px; text-align: right; white-space: nowrap; }
th { background: #f0f0f0; cursor: help; }
td:first-child { text-align: left; }
figure { display: inline-block; margin: 0.5em 1em 0.5em 0; }
figcaption { font-size: 12px; }
img { max-width: 100%; }
dt { font-family: monospace; } dd { margin-bottom: 0.3em; font-size: 13px; }
.caveat { background: #fff6e0; border-left: 4px solid #e0a000; padding: 0.4em 0.8em; }
"""


def write_report(
    path: Path,
    runs: list[Run],
    rows: list[dict],
    plots: dict[str, Path],
    players: dict[str, list[tuple[str, np.ndarray]]],
    sample_rate: int,
    notes: dict[str, str] | None = None,
    ranking: str | None = None,
    groups: list[Group] | None = None,
    target_table: list[tuple[str, dict]] | None = None,
) -> None:
    """One self-contained HTML file: audio as base64 WAV, plots as base64 PNG, the table.

    Args:
        notes: {"reference": ..., "real": ...}: what the samples and the real row were scored against;
            "grid" (optional): `grid_note`'s caveat on the frame-grid metrics.
        ranking: the Markdown of `ranking_markdown`, shown as a table of which metric ranks which failure.
        groups: the seed groups (`group_runs`), listed with their seeds.
        target_table: the columns of `target_columns`, shown as issue #13's targets table.
    """
    notes = notes or {}
    groups = groups or [Group(label=run.label, runs=[run]) for run in runs]
    single = [g.label for g in groups if len(g.runs) == 1]
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>advaudio comparison</title>",
        f"<style>{STYLE}</style></head><body>",
        "<h1>advaudio comparison</h1>",
        "<h2>Runs</h2><ul>",
        *(
            f"<li><b>{html.escape(g.label)}</b> ({len(g.runs)} seed{'s' if len(g.runs) > 1 else ''}: "
            f"{html.escape(', '.join(str(run_seed(r)) for r in g.runs))}): {html.escape(_describe(g.runs[0]))}"
            + "".join(f"<br>&nbsp;&nbsp;{html.escape(r.label)}: {html.escape(str(r.path))}" for r in g.runs)
            + "</li>"
            for g in groups
        ),
        "</ul>",
        "<h2>Metrics</h2>",
        "<p>Each group's row is the mean over its seeds of each run's mean over its samples (where a metric is "
        f"defined); <b>&plusmn;</b> is the half-width of the {CI_LEVEL:.0%} Student t interval over seeds. "
        + (f"One seed, so no interval (one run is an anecdote): {html.escape(', '.join(single))}. " if single else "")
        + f"Every sample is scored against the reference: {html.escape(notes.get('reference', 'held-out audio'))}. "
        f"The <b>{REAL_LABEL}</b> row scores {html.escape(notes.get('real', 'held-out audio'))} against the same "
        "reference.</p>",
        *([f"<p class='caveat'><b>Frame grid:</b> {html.escape(notes['grid'])}</p>"] if "grid" in notes else []),
        html_table(rows),
        "<details><summary>What the columns mean</summary><dl>",
        *(f"<dt>{html.escape(k)}</dt><dd>{html.escape(v)}</dd>" for k, v in METRIC_HELP.items()),
        "</dl></details>",
    ]
    if target_table:
        parts += ["<h2>Targets</h2>", f"<p>{html.escape(TARGETS_NOTE)}</p>", targets_html(target_table)]
    if ranking:
        table = [line for line in ranking.splitlines() if line.startswith("|") and not line.startswith("|---")]
        cells = [[c.strip() for c in line.strip("|").split("|")] for line in table]
        bullets = [line[2:] for line in ranking.splitlines() if line.startswith("- ")]
        parts += [
            "<h2>Which metric ranks which failure</h2>",
            f"<p>{html.escape(ranking.splitlines()[0])}</p>",
            "<table><thead><tr>" + "".join(f"<th>{html.escape(c)}</th>" for c in cells[0]) + "</tr></thead><tbody>",
            *("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in cells[1:]),
            "</tbody></table><ul>",
            *(f"<li>{html.escape(b)}</li>" for b in bullets),
            "</ul>",
        ]
    parts += [
        "<details><summary>Every sample</summary>",
        html_table(
            [{"run": run.label, **row} for run in runs for row in run.rows],
            ("run", "sample") + metrics.METRIC_KEYS,
        ),
        "</details>",
        "<h2>Listen</h2>",
    ]
    for label, items in players.items():
        parts.append(f"<h3>{html.escape(label)}</h3>")
        parts.extend(_player(title, audio, sample_rate) for title, audio in items)
    for title, plot in plots.items():
        parts.append(f"<h2>{html.escape(title)}</h2><img alt='{html.escape(title)}' src='{png_data_uri(plot)}'>")
    parts.append("</body></html>")
    path.write_text("\n".join(parts))


# ----------------------------------------------------------------------------- main


def compare(
    run_dirs: list[str | Path],
    out: str | Path,
    real: bool = True,
    audio_seconds: float = 30.0,
    max_players: int = 4,
    progress: Callable[[str], None] | None = None,
    reference: str | Path = metrics.DEFAULT_REFERENCE,
    per_run: bool = False,
) -> dict[str, Path]:
    """Scores the runs and writes the table, plots and report into `out`.

    Args:
        reference: what every sample (and the real excerpt) is scored against:
            "train" (default: the distribution the model learned; generation
            never seeds from it), "valid", "test" (seed regions cut out), or
            an audio file at the runs' sample rate (`metrics.load_reference`).
        real: add the real baseline, an unseen excerpt of the samples' length
            (`metrics.unseen_excerpt`), and the known-failure ranking check.
        per_run: add one row per run under the group rows.

    Returns:
        {"markdown", "csv", "samples_csv", "spectrograms", "loudness", "spread",
        "learning_curves" (when any run has log.csv), "ranking" (with `real`),
        "targets" (issue #13's targets per group, run and the real excerpt: `targets.md`),
        "report"}: the files written.

    Raises:
        RunFolderError: a run folder without config.json, samples or references.
        CompareError: runs with different data or sample rates, or a reference at another rate.
    """
    say = progress or (lambda message: None)
    runs = [load_run(path) for path in run_dirs]
    check_compatible(runs, warn=say)
    unique_labels(runs)
    groups = group_runs(runs)
    sample_rate = runs[0].sample_rate
    reference_audio, reference_rate, reference_note = metrics.load_reference([r.path for r in runs], reference)
    if reference_rate != sample_rate:
        raise CompareError(
            f"the reference {reference} is at {reference_rate} Hz but the runs are at {sample_rate} Hz; "
            f"resample it or choose --reference train|valid|test"
        )
    say(f"reference: {reference_note}")
    profile = metrics.ReferenceProfile(reference_audio, sample_rate)
    frame_length, frame_hop = first_frames(runs[0])
    notes = {"reference": reference_note}
    grid = grid_note(profile, frame_hop, frame_length)
    if grid is not None:
        notes["grid"] = grid
        say(grid)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)

    for index, run in enumerate(runs, 1):
        say(f"[{index}/{len(runs)}] scoring {run.path} ({len(metrics.sample_paths(run.path))} samples)")
        run.rows = metrics.evaluate_run(run.path, progress=say, reference=profile)
    real_scores, excerpt, ranking = None, None, None
    split = str(reference) if str(reference) in metrics.REFERENCE_SPLITS else None
    if real:
        found = metrics.unseen_excerpt(runs[0].path, split, sample_length(runs))
        if found is None:
            say("no held-out split to cut a real excerpt from: no real baseline")
        else:
            excerpt, notes["real"] = found
            say(f"scoring the real baseline ({notes['real']}) and the known failures made from it")
            real_scores = score_real(runs[0], excerpt, profile)
            ranked = metrics.rank_known_failures(excerpt, profile, sample_rate, frame_length, frame_hop)
            ranking = ranking_markdown({REAL_LABEL: ranked.pop("real"), **ranked}, notes["real"])
    rows = table_rows(groups, real_scores, per_run=per_run)

    files = {"markdown": out / "metrics.md", "csv": out / "metrics.csv", "samples_csv": out / "samples.csv"}
    intervals = (f"Means over seeds; ± is the half-width of the {CI_LEVEL:.0%} t interval over seeds "
                 "(no interval for one seed). ")
    files["markdown"].write_text(
        markdown_table(rows) + "\n" + intervals + f"Reference: {reference_note}."
        + (f" Real: {notes['real']}, against the same reference." if "real" in notes else "") + "\n"
        + (f"\n{notes['grid']}\n" if "grid" in notes else "")
    )
    write_csv(rows, files["csv"])
    per_sample = [{"run": run.label, **row} for run in runs for row in run.rows]
    write_csv(per_sample, files["samples_csv"], ("run", "sample", "checkpoint") + metrics.METRIC_KEYS)
    if ranking is not None:
        files["ranking"] = out / "ranking.md"
        files["ranking"].write_text(ranking)
    target_table = target_columns(groups, real_scores, per_run=per_run)
    files["targets"] = out / "targets.md"
    files["targets"].write_text(targets.markdown(target_table, note=TARGETS_NOTE))

    say("plotting")
    firsts = [(f"{run.label}: {metrics.sample_paths(run.path)[0].name}", metrics.read_audio(metrics.sample_paths(run.path)[0])[0]) for run in runs]
    shown = firsts + ([(f"{REAL_LABEL}: unseen excerpt", excerpt)] if excerpt is not None else [])
    plots: dict[str, Path] = {}
    files["spectrograms"] = plots["Spectrograms (first sample of each run)"] = out / "spectrograms.png"
    plot_spectrograms(shown, sample_rate, files["spectrograms"], max_seconds=min(audio_seconds, 10.0))
    spread = out / "spread.png"
    if plot_spread(groups, real_scores, spread):
        files["spread"] = plots["Spread over seeds (dots: seeds; squares: mean and 95% interval)"] = spread
    curves = out / "learning_curves.png"
    if plot_compared_curves(runs, curves, groups):
        files["learning_curves"] = plots["Learning curves (mean over seeds; band: lowest to highest seed)"] = curves
    else:
        say("no run has a log.csv: no learning curves")
    files["loudness"] = plots["Loudness over time"] = out / "loudness.png"
    plot_loudness(shown, sample_rate, metrics.rms_db(reference_audio), files["loudness"])

    say("writing the HTML report")
    limit = int(audio_seconds * sample_rate)
    players: dict[str, list[tuple[str, np.ndarray]]] = {}
    for run in runs:
        paths = metrics.sample_paths(run.path)[:max_players]
        players[run.label] = [(p.name, metrics.read_audio(p)[0][:limit]) for p in paths]
    if excerpt is not None:
        players[REAL_LABEL] = [("unseen excerpt", excerpt[:limit])]
    files["report"] = out / "report.html"
    write_report(files["report"], runs, rows, plots, players, sample_rate, notes=notes, ranking=ranking, groups=groups,
                 target_table=target_table)
    say(f"wrote {', '.join(str(p) for p in files.values())}")
    return files


def main(argv: list[str] | None = None) -> int:
    """`python -m advaudio.compare RUN_DIR ... --out DIR`; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m advaudio.compare",
        description="Compare run folders: metric table (Markdown, CSV), spectrograms, learning curves, "
        "loudness over time and one self-contained HTML report. Runs of the same experiment that differ "
        "only in train.seed are grouped: mean and 95%% interval over seeds.",
    )
    parser.add_argument("runs", nargs="+", metavar="RUN_DIR",
                        help="run folders (runs/<experiment>/<timestamp>), or samples folders in them "
                             "(RUN_DIR/samples-unrevised, written by python -m advaudio.generate RUN_DIR --out ...)")
    parser.add_argument("--out", required=True, help="folder for the table, plots and report.html")
    parser.add_argument(
        "--reference", default=metrics.DEFAULT_REFERENCE, metavar="train|valid|test|FILE",
        help="what samples and the real excerpt are scored against (default: train, the distribution the model "
        "learned, which no seed comes from; for valid/test the seed regions are cut out; or an audio file)",
    )
    parser.add_argument("--per-run", action="store_true", help="add one row per run under each group's row")
    parser.add_argument("--no-real", action="store_true", help="leave out the real-audio baseline row")
    parser.add_argument("--audio-seconds", type=float, default=30.0, help="seconds of each sample embedded in the report")
    parser.add_argument("--max-players", type=int, default=4, help="samples per run embedded in the report")
    args = parser.parse_args(argv)

    def progress(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    try:
        files = compare(
            args.runs,
            args.out,
            real=not args.no_real,
            audio_seconds=args.audio_seconds,
            max_players=args.max_players,
            progress=progress,
            reference=args.reference,
            per_run=args.per_run,
        )
    except (CompareError, metrics.RunFolderError) as error:
        print(f"advaudio.compare: error: {error}", file=sys.stderr)
        return 2
    print(files["report"])
    return 0
