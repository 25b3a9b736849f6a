"""Issue #13's quality targets as data: which runs and seed groups of a comparison meet them.

compare writes the check as `targets.md` and a table in report.html, so "which targets does this recipe meet, in
how many seeds" is read off a report instead of counted by hand. The generation check's `gen/composite`
(`generation_check.COMPOSITE_TOLERANCES`) scales its terms by the same edges.

A target is judged on a run's mean over its samples (the value of the run's row in metrics.md) and on a group's
mean over seeds; the group's cell also says in how many of its seeds the target is met. Real audio is judged too:
a target the unseen real excerpt misses (the dominant-pitch ratio of chords, for one) cannot rank generators on
that data. Nothing here imports training code.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

# Targets with a multiple of the real excerpt's value as their edge are undefined without a real row.
MFCC_TIMES_REAL = 3.0


@dataclass(frozen=True)
class Target:
    """One target: the metric `metric` (a key of `metrics.METRIC_KEYS`) lies in [low, high].

    Args:
        label: how tables name it, e.g. "seam ratio <= 1.2".
        metric: the metric key.
        low, high: the closed range (None: unbounded on that side).
        times_real: when set, `high` is this multiple of the real excerpt's value of the metric.
        absent: the target is that the metric is undefined (`silence_onset_s`: blank = never falls silent).
    """

    label: str
    metric: str
    low: float | None = None
    high: float | None = None
    times_real: float | None = None
    absent: bool = False

    def met(self, value: float | None, real: dict | None = None) -> bool | None:
        """Whether `value` meets the target; None when it cannot be judged (the metric is undefined for this
        data, e.g. the onset-rate ratio of a drone, or the target needs a real row that is missing)."""
        if self.absent:
            return value is None or not math.isfinite(value)
        if value is None or not math.isfinite(value):
            return None
        high = self.high
        if self.times_real is not None:
            reference = (real or {}).get(self.metric)
            if reference is None or not math.isfinite(reference) or reference <= 0:
                return None
            high = self.times_real * reference
        return (self.low is None or value >= self.low) and (high is None or value <= high)


TARGETS: tuple[Target, ...] = (
    Target("frame repetition <= 0.3", "frame_repetition", high=0.3),
    Target("seam ratio <= 1.2", "seam_ratio", high=1.2),
    Target("flatness / data 0.5 to 2", "flatness_ratio", low=0.5, high=2.0),
    Target("pitch ratio 0.97 to 1.03", "pitch_ratio", low=0.97, high=1.03),
    Target("onset-rate ratio 0.5 to 2", "onset_rate_ratio", low=0.5, high=2.0),
    Target(f"KID MFCC <= {MFCC_TIMES_REAL:g}x real's", "kid_mfcc", times_real=MFCC_TIMES_REAL),
    Target(f"FD-inf MFCC <= {MFCC_TIMES_REAL:g}x real's", "frechet_mfcc_inf", times_real=MFCC_TIMES_REAL),
    Target("loudness drift <= 6 dB (first vs last quarter)", "loudness_drop_db", low=-6.0, high=6.0),
    Target("never falls silent", "silence_onset_s", absent=True),
)
TARGET_BY_METRIC: dict[str, Target] = {target.metric: target for target in TARGETS}


def edge(metric: str) -> float:
    """The upper edge of the target on `metric` (e.g. 1.2 for the seam ratio); KeyError for a metric without a
    fixed one."""
    high = TARGET_BY_METRIC[metric].high
    if high is None:
        raise KeyError(f"the target on {metric!r} has no fixed upper edge")
    return high


@dataclass
class Verdict:
    """One cell of the targets table: the value judged and whether it meets the target (None: cannot be
    judged), plus, for a group, in how many of its seeds the target is met (`seeds_met` of `seeds_judged`)."""

    value: float | None
    met: bool | None
    seeds_met: int | None = None
    seeds_judged: int | None = None


def judge_run(summary: dict, real: dict | None) -> dict[str, Verdict]:
    """{metric: Verdict} for every target, on one run's (or the real excerpt's) mean values `summary`."""
    return {t.metric: Verdict(summary.get(t.metric), t.met(summary.get(t.metric), real)) for t in TARGETS}


def judge_group(mean: dict, summaries: list[dict], real: dict | None) -> dict[str, Verdict]:
    """{metric: Verdict} for every target, on a group's mean over seeds `mean`, with the count of its seeds'
    `summaries` (one per run) that meet it. The mean of "never falls silent" is met only if every seed is."""
    verdicts = {}
    for target in TARGETS:
        per_seed = [target.met(summary.get(target.metric), real) for summary in summaries]
        judged = [flag for flag in per_seed if flag is not None]
        met = all(judged) if target.absent else target.met(mean.get(target.metric), real)
        verdicts[target.metric] = Verdict(mean.get(target.metric), met, sum(judged), len(judged))
    return verdicts


def count_met(verdicts: dict[str, Verdict]) -> tuple[int, int]:
    """(targets met, targets judged) over one column of verdicts."""
    judged = [v.met for v in verdicts.values() if v.met is not None]
    return sum(judged), len(judged)


def count_seed_cells(verdicts: dict[str, Verdict]) -> tuple[int, int]:
    """(seed cells met, seed cells judged) over a group's column: each seed and target is one cell."""
    return (sum(v.seeds_met or 0 for v in verdicts.values()),
            sum(v.seeds_judged or 0 for v in verdicts.values()))


def _format(value: float | None) -> str:
    """Two decimals, as the README's tables (whole numbers from 100 up, two significant digits under 0.1)."""
    if value is None or not math.isfinite(value):
        return "-"
    if abs(value) >= 100:
        return f"{value:.0f}"
    return f"{value:.2f}" if abs(value) >= 0.1 else f"{value:.2g}"


def cell_text(target: Target, verdict: Verdict, emphasis: str = "**") -> str:
    """A table cell: the value (between `emphasis` marks when met: Markdown bold by default, none for HTML,
    which colours the cell instead), "n/a" when it cannot be judged, and k/n seeds for a group."""
    if target.absent:
        text = "never" if verdict.value is None or not math.isfinite(verdict.value) else f"at {verdict.value:.1f} s"
    elif verdict.met is None:
        text = f"{_format(verdict.value)} (n/a)"
    else:
        text = _format(verdict.value)
    if verdict.met:
        text = f"{emphasis}{text}{emphasis}"
    if verdict.seeds_judged:
        text += f" ({verdict.seeds_met}/{verdict.seeds_judged} seeds)"
    return text


def markdown(columns: list[tuple[str, dict[str, Verdict]]], note: str = "") -> str:
    """The targets table: one row per target, one column per group, run or real excerpt (`columns`: label and
    its verdicts), a last row with the targets met per column (and, for groups, the seed cells met)."""
    lines = ["| target | " + " | ".join(label for label, _ in columns) + " |",
             "|---|" + "---|" * len(columns)]
    for target in TARGETS:
        lines.append(f"| {target.label} | "
                     + " | ".join(cell_text(target, verdicts[target.metric]) for _, verdicts in columns) + " |")
    totals = []
    for _, verdicts in columns:
        met, judged = count_met(verdicts)
        text = f"{met} of {judged}"
        seed_met, seed_judged = count_seed_cells(verdicts)
        if seed_judged:
            text += f" (seed cells: {seed_met} of {seed_judged})"
        totals.append(text)
    lines.append("| **targets met** | " + " | ".join(totals) + " |")
    return "\n".join(lines) + "\n" + (f"\n{note}\n" if note else "")
