"""Tests of advaudio.evaluation.listening.analyze on hand-made answer sheets with hand-computed answers."""
import csv
import json
import math

import matplotlib.image
import numpy as np
import pytest
from scipy import stats

from advaudio.evaluation.listening import analyze as analyze_lib
from advaudio.evaluation.listening.build import FORMAT
from advaudio.listen.__main__ import main

TRIALS = 10
T_975_2 = 4.302652729911275  # Student t quantile 0.975 with 2 degrees of freedom (tables)


def make_key(n_trials=TRIALS):
    stimuli, trials = {}, {}
    for t in range(1, n_trials + 1):
        ids = {c: f"{t:02d}{c[:3]}" for c in ("good", "bad", "reference", "anchor")}
        for condition, sid in ids.items():
            stimuli[sid] = {"condition": condition, "trial": f"r{t:02d}"}
        trials[f"r{t:02d}"] = {"type": "rating", "stimuli": sorted(ids.values())}
        trials[f"ab{t:02d}"] = {"type": "ab", "conditions": ["good", "bad"], "stimuli": [ids["good"], ids["bad"]]}
    return {"format": FORMAT, "test_id": "t" * 16, "conditions": ["good", "bad"], "reference": "reference",
            "anchor": "anchor", "trials": trials, "stimuli": stimuli}


def sheet(listener, scores, choices=(), finished="2026-01-01T00:10:00Z"):
    """scores: trial number -> condition -> score; choices: (trial number, 'good'|'bad'|'none', good_is_a)."""
    ratings = [{"trial": f"r{t:02d}", "stimulus": f"{t:02d}{c[:3]}", "score": s}
               for t, per in scores.items() for c, s in per.items()]
    prefs = []
    for t, choice, good_is_a in choices:
        a, b = (f"{t:02d}goo", f"{t:02d}bad") if good_is_a else (f"{t:02d}bad", f"{t:02d}goo")
        pick = "none" if choice == "none" else ("a" if (choice == "good") == good_is_a else "b")
        prefs.append({"trial": f"ab{t:02d}", "a": a, "b": b, "choice": pick})
    return {"format": FORMAT, "test_id": "t" * 16, "listener": listener, "started": "2026-01-01T00:00:00Z",
            "finished": finished, "ratings": ratings, "preferences": prefs}


def listener_scores(good, bad, reference=95, anchor=10, low_reference_trials=()):
    return {t: {"good": good(t), "bad": bad(t), "reference": 50 if t in low_reference_trials else reference,
                "anchor": anchor} for t in range(1, TRIALS + 1)}


@pytest.fixture(scope="module")
def sheets():
    return {
        # l1 prefers good in 9 AB trials (A/B sides alternate) and has no preference once
        "l1": sheet("l1", listener_scores(lambda t: 70 + t, lambda t: 30 + t % 3),
                    [(t, "good", t % 2 == 0) for t in range(1, 10)] + [(10, "none", True)]),
        "l2": sheet("l2", listener_scores(lambda t: 80, lambda t: 40 - t)),
        # one low hidden reference in 10 trials: 10% <= 15%, kept
        "l4": sheet("l4", listener_scores(lambda t: 60 + t, lambda t: 20, low_reference_trials=(3,))),
        # two low hidden references in 10 trials: 20% > 15%, dropped (and its AB answers with it)
        "l3": sheet("l3", listener_scores(lambda t: 0, lambda t: 100, low_reference_trials=(1, 2)),
                    [(t, "bad", True) for t in range(1, 11)]),
    }


@pytest.fixture(scope="module")
def study(sheets, tmp_path_factory):
    root = tmp_path_factory.mktemp("study")
    (root / "key.json").write_text(json.dumps(make_key()))
    (root / "results").mkdir()
    for listener, doc in sheets.items():
        (root / "results" / f"{listener}.json").write_text(json.dumps(doc))
    bad = sheet("l9", listener_scores(lambda t: 200, lambda t: 0))  # score out of range
    (root / "results" / "l9.json").write_text(json.dumps(bad))
    other = dict(sheets["l1"], test_id="x" * 16, listener="l8")
    (root / "results" / "l8.json").write_text(json.dumps(other))
    (root / "results" / ".l7.json.tmp").write_text("{")  # a half-written temporary file: not a sheet
    summary = analyze_lib.analyze([root / "results"], out=root / "analysis")
    return root, summary


def test_holm_hand_computed():
    assert analyze_lib.holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert analyze_lib.holm([0.02, 0.02]) == pytest.approx([0.04, 0.04])
    assert analyze_lib.holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])
    assert analyze_lib.holm([0.2]) == [0.2]
    assert analyze_lib.holm([]) == []


def test_mean_ci_hand_computed():
    mean, low, high = analyze_lib.mean_ci([1.0, 2.0, 3.0])
    half = T_975_2 * 1.0 / math.sqrt(3)
    assert mean == 2.0 and low == pytest.approx(2.0 - half) and high == pytest.approx(2.0 + half)
    assert analyze_lib.mean_ci([5.0]) == (5.0, None, None)


def test_screening_threshold_is_more_than_15_percent():
    key = make_key(20)
    ref = lambda t: f"{t:02d}ref"  # noqa: E731

    def doc(listener, low):
        return {"listener": listener, "ratings": [{"trial": "", "stimulus": ref(t), "score": 89.9 if t <= low else 90}
                                                  for t in range(1, 21)]}

    sheets = {"ok": doc("ok", 3), "out": doc("out", 4), "noref": {"listener": "noref", "ratings": []}}
    kept, dropped, unscreened = analyze_lib.screen(sheets, key)
    assert kept == ["ok", "noref"] and unscreened == ["noref"]  # 3 of 20 = 15% is not more than 15%
    assert dropped == [{"listener": "out", "low": 4, "trials": 20, "share": 0.2}]


def test_dropped_and_ignored_are_reported(study):
    _, summary = study
    assert summary["listeners"]["kept"] == ["l1", "l2", "l4"]
    assert summary["listeners"]["dropped"] == [{"listener": "l3", "low": 2, "trials": 10, "share": 0.2}]
    reasons = {item["path"].split("/")[-1]: item["reason"] for item in summary["ignored"]}
    assert set(reasons) == {"l8.json", "l9.json"}
    assert "another test" in reasons["l8.json"] and "score" in reasons["l9.json"]


def test_means_and_cis(study, sheets):
    _, summary = study
    rows = {c["condition"]: c for c in summary["conditions"]}
    assert [c["condition"] for c in summary["conditions"]] == ["reference", "good", "bad", "anchor"]
    good = [70 + t for t in range(1, 11)] + [80] * 10 + [60 + t for t in range(1, 11)]
    assert rows["good"]["n"] == 30 and rows["good"]["mean"] == pytest.approx(np.mean(good))
    half = stats.t.ppf(0.975, 29) * np.std(good, ddof=1) / math.sqrt(30)
    assert rows["good"]["ci95_low"] == pytest.approx(np.mean(good) - half)
    assert rows["reference"]["mean"] == pytest.approx((29 * 95 + 50) / 30)
    assert rows["anchor"]["mean"] == 10 and rows["anchor"]["role"] == "lower_anchor"
    assert rows["good"]["mean"] > rows["bad"]["mean"]  # l3's opposite ratings were screened out


def test_wilcoxon_with_holm(study):
    _, summary = study
    tests = {(w["a"], w["b"]): w for w in summary["wilcoxon"]}
    assert set(tests) == {("reference", "good"), ("reference", "bad"), ("good", "bad")}  # no anchor pairs
    good = [70 + t for t in range(1, 11)] + [80] * 10 + [60 + t for t in range(1, 11)]
    bad = [30 + t % 3 for t in range(1, 11)] + [40 - t for t in range(1, 11)] + [20] * 10
    expected = stats.wilcoxon(good, bad)
    assert tests[("good", "bad")]["n"] == 30
    assert tests[("good", "bad")]["p"] == pytest.approx(expected.pvalue)
    assert tests[("good", "bad")]["p"] < 1e-5  # every one of the 30 pairs favours good
    raw = [w["p"] for w in summary["wilcoxon"]]
    assert [w["p_holm"] for w in summary["wilcoxon"]] == pytest.approx(analyze_lib.holm(raw))


def test_ab_binomial(study):
    _, summary = study
    (row,) = summary["ab"]
    assert (row["a"], row["b"]) == ("good", "bad")
    assert (row["prefer_a"], row["prefer_b"], row["no_preference"]) == (9, 0, 1)  # l3's 10 'bad' dropped
    assert row["p"] == pytest.approx(2 * 0.5 ** 9)  # two-sided: 9 of 9 decided pairs
    assert row["p_holm"] == pytest.approx(row["p"])


def test_outputs_written(study):
    root, summary = study
    out = root / "analysis"
    assert json.loads((out / "summary.json").read_text())["listeners"] == summary["listeners"]
    text = (out / "summary.md").read_text()
    assert "Dropped l3" in text and "| good | condition | 30 |" in text and "| good | bad | 9 | 0 | 1 |" in text
    assert (out / "ratings.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    image = matplotlib.image.imread(out / "ratings.png")
    assert image.shape[0] > 100 and image[..., :3].std() > 0.05  # something is drawn


@pytest.mark.slow
def test_csv_sheets_and_latest_sheet_per_listener(sheets, tmp_path):
    (tmp_path / "key.json").write_text(json.dumps(make_key()))
    doc = sheets["l1"]
    with open(tmp_path / "l1.csv", "w", newline="") as handle:  # the columns the page exports
        writer = csv.writer(handle)
        writer.writerow(["listener", "test_id", "kind", "trial", "stimulus", "score", "played", "a", "b", "choice"])
        for r in doc["ratings"]:
            writer.writerow([doc["listener"], doc["test_id"], "rating", r["trial"], r["stimulus"], r["score"], "true",
                             "", "", ""])
        for p in doc["preferences"]:
            writer.writerow([doc["listener"], doc["test_id"], "ab", p["trial"], "", "", "",
                             p["a"], p["b"], p["choice"]])
    from_csv = analyze_lib.analyze([tmp_path / "l1.csv"], tmp_path / "key.json")
    (tmp_path / "l1.json").write_text(json.dumps(doc))
    from_json = analyze_lib.analyze([tmp_path / "l1.json"], tmp_path / "key.json")
    assert from_csv["conditions"] == from_json["conditions"] and from_csv["ab"] == from_json["ab"]
    older = sheet("l1", listener_scores(lambda t: 0, lambda t: 0), finished="2025-01-01T00:00:00Z")
    (tmp_path / "l1-old.json").write_text(json.dumps(older))
    both = analyze_lib.analyze([tmp_path / "l1-old.json", tmp_path / "l1.json"], tmp_path / "key.json")
    assert both["conditions"] == from_json["conditions"]
    assert both["ignored"] == [{"path": str(tmp_path / "l1-old.json"), "reason": "an answer sheet of l1 replaced it"}]


@pytest.mark.slow
def test_no_difference_gives_p_one(tmp_path):
    (tmp_path / "key.json").write_text(json.dumps(make_key()))
    same = sheet("s", listener_scores(lambda t: 50, lambda t: 50))
    (tmp_path / "s.json").write_text(json.dumps(same))
    summary = analyze_lib.analyze([tmp_path], tmp_path / "key.json")
    assert {(w["a"], w["b"]): w["p"] for w in summary["wilcoxon"]}[("good", "bad")] == 1.0
    assert summary["ab"] == []


def test_cli_finds_the_key_and_prints_the_table(study, capsys, tmp_path):
    root, _ = study
    assert main(["analyze", str(root / "results"), "--out", str(tmp_path / "a")]) == 0
    printed = capsys.readouterr().out
    assert "Dropped l3: hidden real excerpt below 90 in 2 of 10 trials (20% > 15%)" in printed
    assert "| reference | hidden_reference | 30 |" in printed
    assert (tmp_path / "a" / "summary.md").is_file()
    assert main(["analyze", str(tmp_path / "a")]) == 2  # no key.json anywhere near
    assert "--key" in capsys.readouterr().err
