"""Analyses listening-test answers: post-screening, means with 95% CIs, Wilcoxon + Holm, binomial AB tests.

Answer sheets are the JSON files `serve` stores in results/ or the JSON/CSV
files the page exports; key.json turns their opaque stimulus ids back into
conditions. A listener who rates the hidden real excerpt below
`SCREEN_SCORE` in more than `SCREEN_MAX_SHARE` of the rating trials is
dropped (BS.1534-style post-screening) and reported. Means and Student-t
intervals pool every rating of a condition; Wilcoxon pairs are the two
conditions' scores on the same page by the same listener (trials within a
listener are treated as independent, as is usual for MUSHRA-style tests); AB
ties ("no preference") are counted but left out of the binomial test.
"""
from __future__ import annotations

import csv
import io
import itertools
import json
import math
from pathlib import Path

import numpy as np
from scipy import stats

from advaudio.evaluation.listening.serve import SubmissionError, parse_submission, validate_submission

SCREEN_SCORE = 90.0  # the hidden real excerpt should score at least this ...
SCREEN_MAX_SHARE = 0.15  # ... in all but this share of a listener's trials
CONFIDENCE = 0.95
ALPHA = 0.05


def holm(pvalues: list[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values, in the input order.

    The i-th smallest of m p-values becomes max over j <= i of
    min(1, (m - j + 1) * p_(j)).
    """
    m = len(pvalues)
    order = sorted(range(m), key=lambda i: pvalues[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * pvalues[i]))
        adjusted[i] = running
    return adjusted


def mean_ci(values: list[float], confidence: float = CONFIDENCE) -> tuple[float, float | None, float | None]:
    """Mean and Student-t confidence interval: mean -/+ t_{(1+c)/2, n-1} * sd / sqrt(n).

    Returns (mean, low, high); low and high are None for fewer than 2 values.
    """
    x = np.asarray(values, dtype=np.float64)
    mean = float(x.mean())
    if len(x) < 2:
        return mean, None, None
    half = float(stats.t.ppf((1 + confidence) / 2, len(x) - 1) * x.std(ddof=1) / math.sqrt(len(x)))
    return mean, mean - half, mean + half


def test_from_key(key: dict) -> dict:
    """The public test data (as in test.json) that key.json describes."""
    return {"test_id": key["test_id"],
            "trials": [{"id": t, "type": v["type"], "stimuli": v["stimuli"]} for t, v in key["trials"].items()]}


def read_csv_sheet(text: str) -> dict:
    """An exported CSV answer sheet back into the JSON form."""
    rows = list(csv.DictReader(io.StringIO(text)))
    if not rows:
        raise SubmissionError("the CSV holds no answers")
    listeners = {r["listener"] for r in rows}
    test_ids = {r["test_id"] for r in rows}
    if len(listeners) != 1 or len(test_ids) != 1:
        raise SubmissionError("a CSV sheet must hold one listener of one test")
    from advaudio.evaluation.listening.build import FORMAT
    doc = {"format": FORMAT, "listener": listeners.pop(), "test_id": test_ids.pop(), "ratings": [], "preferences": []}
    for r in rows:
        if r["kind"] == "rating":
            try:
                score = float(r["score"])
            except ValueError:
                raise SubmissionError(f"score {r['score']!r} is not a number") from None
            doc["ratings"].append({"trial": r["trial"], "stimulus": r["stimulus"], "score": score})
        elif r["kind"] == "ab":
            doc["preferences"].append({"trial": r["trial"], "a": r["a"], "b": r["b"], "choice": r["choice"]})
        else:
            raise SubmissionError(f"unknown kind {r['kind']!r}")
    return doc


def _sheet_paths(paths: list[str | Path]) -> list[Path]:
    found = []
    for p in map(Path, paths):
        if p.is_dir():
            found += sorted(q for q in p.iterdir() if q.suffix in (".json", ".csv") and not q.name.startswith(".")
                            and q.name != "key.json" and q.is_file())
        else:
            found.append(p)
    return found


def find_key(paths: list[str | Path]) -> Path:
    """key.json next to a results folder (DIR/results -> DIR/key.json), or in a given folder."""
    for p in map(Path, paths):
        for folder in ([p, p.parent] if p.is_dir() else [p.parent, p.parent.parent]):
            if (folder / "key.json").is_file():
                return folder / "key.json"
    raise FileNotFoundError("no key.json next to the results; pass --key DIR/key.json")


def load_sheets(paths: list[str | Path], key: dict) -> tuple[dict[str, dict], list[dict]]:
    """Valid sheets by listener (the latest finished one per listener) and the ignored files with reasons."""
    test = test_from_key(key)
    sheets: dict[str, tuple[str, dict]] = {}
    ignored = []
    for path in _sheet_paths(paths):
        try:
            if path.suffix == ".csv":
                doc = read_csv_sheet(path.read_text(encoding="utf-8"))
            else:
                doc = parse_submission(path.read_bytes())
            validate_submission(doc, test)
        except (SubmissionError, OSError, KeyError) as err:
            ignored.append({"path": str(path), "reason": str(err)})
            continue
        stamp = doc.get("finished") or doc.get("started") or ""
        previous = sheets.get(doc["listener"])
        if previous is not None:
            older, newer = sorted([previous, (stamp, doc, str(path))], key=lambda s: s[0])
            ignored.append({"path": older[2], "reason": f"an answer sheet of {doc['listener']} replaced it"})
            sheets[doc["listener"]] = newer
        else:
            sheets[doc["listener"]] = (stamp, doc, str(path))
    return {listener: entry[1] for listener, entry in sorted(sheets.items())}, ignored


def screen(sheets: dict[str, dict], key: dict, score: float = SCREEN_SCORE,
           max_share: float = SCREEN_MAX_SHARE) -> tuple[list[str], list[dict], list[str]]:
    """Post-screening on the hidden real excerpt.

    Returns (kept listeners, dropped [{listener, low, trials, share}],
    listeners who rated no hidden real excerpt, kept but noted).
    """
    kept, dropped, unscreened = [], [], []
    for listener, doc in sheets.items():
        reference = [r["score"] for r in doc["ratings"]
                     if key["stimuli"][r["stimulus"]]["condition"] == key["reference"]]
        if not reference:
            unscreened.append(listener)
            kept.append(listener)
            continue
        low = sum(1 for s in reference if s < score)
        share = low / len(reference)
        if share > max_share:
            dropped.append({"listener": listener, "low": low, "trials": len(reference), "share": share})
        else:
            kept.append(listener)
    return kept, dropped, unscreened


def _condition_order(key: dict) -> list[str]:
    return [key["reference"]] + list(key["conditions"]) + [key["anchor"]]


def analyze(paths: list[str | Path], key_path: str | Path | None = None, out: str | Path | None = None) -> dict:
    """Reads answer sheets, screens listeners, computes the statistics, writes out/summary.{json,md} and a plot.

    Returns the summary (what summary.json holds).
    """
    key_path = Path(key_path) if key_path else find_key(paths)
    key = json.loads(key_path.read_text())
    sheets, ignored = load_sheets(paths, key)
    kept, dropped, unscreened = screen(sheets, key)
    condition_of = {sid: info["condition"] for sid, info in key["stimuli"].items()}

    scores: dict[str, list[float]] = {c: [] for c in _condition_order(key)}
    by_cell: dict[tuple[str, str], dict[str, float]] = {}  # (listener, trial) -> condition -> score
    for listener in kept:
        for r in sheets[listener]["ratings"]:
            condition = condition_of[r["stimulus"]]
            scores[condition].append(float(r["score"]))
            by_cell.setdefault((listener, r["trial"]), {})[condition] = float(r["score"])
    conditions = []
    for name, values in scores.items():
        roles = {key["reference"]: "hidden_reference", key["anchor"]: "lower_anchor"}
        role = roles.get(name, "condition")
        row = {"condition": name, "role": role, "n": len(values), "mean": None, "sd": None,
               "ci95_low": None, "ci95_high": None}
        if values:
            row["mean"], row["ci95_low"], row["ci95_high"] = mean_ci(values)
            row["sd"] = float(np.std(values, ddof=1)) if len(values) > 1 else None
        conditions.append(row)

    wilcoxon = []
    for a, b in itertools.combinations([key["reference"]] + list(key["conditions"]), 2):
        pairs = [(cell[a], cell[b]) for cell in by_cell.values() if a in cell and b in cell]
        row = {"a": a, "b": b, "n": len(pairs), "statistic": None, "p": None,
               "median_difference": float(np.median([x - y for x, y in pairs])) if pairs else None}
        if pairs:
            x, y = np.array(pairs).T
            if np.all(x == y):
                row["p"] = 1.0  # no difference at all: nothing to test
            else:
                result = stats.wilcoxon(x, y)
                row["statistic"], row["p"] = float(result.statistic), float(result.pvalue)
        wilcoxon.append(row)
    _add_holm(wilcoxon)

    ab: dict[tuple[str, str], dict] = {}
    for listener in kept:
        for p in sheets[listener]["preferences"]:
            first, second = key["trials"][p["trial"]]["conditions"]
            row = ab.setdefault((first, second), {"a": first, "b": second, "prefer_a": 0, "prefer_b": 0,
                                                  "no_preference": 0, "p": None})
            if p["choice"] == "none":
                row["no_preference"] += 1
            else:
                winner = condition_of[p[p["choice"]]]
                row["prefer_a" if winner == first else "prefer_b"] += 1
    ab_rows = list(ab.values())
    for row in ab_rows:
        decided = row["prefer_a"] + row["prefer_b"]
        if decided:
            row["p"] = float(stats.binomtest(row["prefer_a"], decided, 0.5).pvalue)
    _add_holm(ab_rows)

    summary = {
        "test_id": key["test_id"],
        "key": str(key_path),
        "screening": {"score": SCREEN_SCORE, "max_share": SCREEN_MAX_SHARE},
        "listeners": {"kept": kept, "dropped": dropped, "not_screened": unscreened},
        "ignored": ignored,
        "conditions": conditions,
        "wilcoxon": wilcoxon,
        "ab": ab_rows,
        "confidence": CONFIDENCE,
        "alpha": ALPHA,
    }
    if out is not None:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        plot(summary, out / "ratings.png")
        summary["plot"] = str(out / "ratings.png")
        (out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
        (out / "summary.md").write_text(markdown(summary))
    return summary


def _add_holm(rows: list[dict]) -> None:
    tested = [r for r in rows if r["p"] is not None]
    for row, adjusted in zip(tested, holm([r["p"] for r in tested]), strict=True):
        row["p_holm"] = adjusted
    for row in rows:
        row.setdefault("p_holm", None)


def _num(value, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _p(value) -> str:
    return "-" if value is None else f"{value:.3g}"


def markdown(summary: dict) -> str:
    """The summary as Markdown tables (also what the CLI prints)."""
    lines = ["# Listening test results", ""]
    listeners = summary["listeners"]
    lines.append(f"Listeners kept: {len(listeners['kept'])} ({', '.join(listeners['kept']) or 'none'}).")
    for d in listeners["dropped"]:
        lines.append(f"Dropped {d['listener']}: hidden real excerpt below {summary['screening']['score']:g} "
                     f"in {d['low']} of {d['trials']} trials ({d['share']:.0%} > "
                     f"{summary['screening']['max_share']:.0%}).")
    for listener in listeners["not_screened"]:
        lines.append(f"Not screened {listener}: rated no hidden real excerpt.")
    for item in summary["ignored"]:
        lines.append(f"Ignored {item['path']}: {item['reason']}")
    lines += ["", "## Ratings (0-100; mean and 95% CI)", "",
              "| condition | role | n | mean | 95% CI |", "|---|---|---:|---:|---|"]
    for c in summary["conditions"]:
        ci = f"[{_num(c['ci95_low'])}, {_num(c['ci95_high'])}]" if c["ci95_low"] is not None else "-"
        lines.append(f"| {c['condition']} | {c['role']} | {c['n']} | {_num(c['mean'])} | {ci} |")
    lines += ["", "## Paired Wilcoxon signed-rank tests (Holm-corrected)", "",
              "| a | b | pairs | median a-b | p | p (Holm) |", "|---|---|---:|---:|---:|---:|"]
    for w in summary["wilcoxon"]:
        lines.append(f"| {w['a']} | {w['b']} | {w['n']} | {_num(w['median_difference'])} | {_p(w['p'])} | "
                     f"{_p(w['p_holm'])} |")
    lines += ["", "## AB preferences (two-sided binomial test of decided pairs, Holm-corrected)", "",
              "| a | b | prefer a | prefer b | no preference | p | p (Holm) |", "|---|---|---:|---:|---:|---:|---:|"]
    for r in summary["ab"]:
        lines.append(f"| {r['a']} | {r['b']} | {r['prefer_a']} | {r['prefer_b']} | {r['no_preference']} | "
                     f"{_p(r['p'])} | {_p(r['p_holm'])} |")
    return "\n".join(lines) + "\n"


def plot(summary: dict, path: str | Path) -> None:
    """Mean and 95% CI per condition, and AB preference shares, as one PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rated = [c for c in summary["conditions"] if c["n"]]
    panels = 2 if summary["ab"] else 1
    fig, axes = plt.subplots(1, panels, figsize=(6 * panels, 4), squeeze=False)
    ax = axes[0][0]
    for i, c in enumerate(rated):
        low = c["mean"] - c["ci95_low"] if c["ci95_low"] is not None else 0.0
        high = c["ci95_high"] - c["mean"] if c["ci95_high"] is not None else 0.0
        ax.errorbar([i], [c["mean"]], yerr=[[low], [high]], fmt="o", capsize=6)
    ax.set_xticks(range(len(rated)), [c["condition"] for c in rated], rotation=30, ha="right")
    ax.set_ylim(0, 100)
    ax.set_yticks([10, 30, 50, 70, 90], ["Bad", "Poor", "Fair", "Good", "Excellent"])
    for edge in (20, 40, 60, 80):
        ax.axhline(edge, color="0.85", linewidth=0.8, zorder=0)
    ax.set_title(f"Ratings: mean and {summary['confidence']:.0%} CI ({len(summary['listeners']['kept'])} listeners)")
    if summary["ab"]:
        ax = axes[0][1]
        for i, r in enumerate(summary["ab"]):
            total = max(1, r["prefer_a"] + r["prefer_b"] + r["no_preference"])
            left = 0.0
            shares = ((r["prefer_a"], "tab:blue"), (r["no_preference"], "0.7"), (r["prefer_b"], "tab:orange"))
            for count, color in shares:
                ax.barh([i], [count / total], left=left, color=color)
                left += count / total
        ax.set_yticks(range(len(summary["ab"])), [f"{r['a']} vs {r['b']}" for r in summary["ab"]])
        ax.set_xlim(0, 1)
        ax.set_xlabel("share: prefer a (blue) / none (grey) / prefer b (orange)")
        ax.set_title("AB preferences")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
