"""Tests of advaudio.evaluation.targets: issue #13's targets judged on runs, seed groups and real audio."""
import math

import pytest

from advaudio.evaluation import generation_check, targets
from advaudio.evaluation.targets import TARGET_BY_METRIC, Verdict

REAL = {"kid_mfcc": 0.5, "frechet_mfcc_inf": 300.0}


def met(metric, value, real=REAL):
    return TARGET_BY_METRIC[metric].met(value, real)


def test_ranges_are_closed_and_follow_the_issue():
    assert met("seam_ratio", 1.2) and not met("seam_ratio", 1.2001)
    assert met("frame_repetition", -0.5) and met("frame_repetition", 0.3) and not met("frame_repetition", 0.31)
    assert met("flatness_ratio", 0.5) and met("flatness_ratio", 2.0)
    assert not met("flatness_ratio", 0.49) and not met("flatness_ratio", 2.01)
    assert met("pitch_ratio", 0.97) and met("pitch_ratio", 1.03) and not met("pitch_ratio", 0.969)
    assert met("onset_rate_ratio", 1.93) and not met("onset_rate_ratio", 2.27)
    assert met("loudness_drop_db", -6.0) and met("loudness_drop_db", 6.0) and not met("loudness_drop_db", -6.5)


def test_mfcc_edges_are_three_times_the_real_excerpts_value():
    assert met("kid_mfcc", 1.5) and not met("kid_mfcc", 1.51)  # 3 x 0.5
    assert met("frechet_mfcc_inf", 900.0) and not met("frechet_mfcc_inf", 901.0)  # 3 x 300
    # Without a real row (compare --no-real) or with a real value that cannot scale, they cannot be judged.
    assert met("kid_mfcc", 0.1, real=None) is None
    assert met("kid_mfcc", 0.1, real={"kid_mfcc": -0.01}) is None


def test_undefined_values_cannot_be_judged_but_silence_is_a_target_on_absence():
    assert met("onset_rate_ratio", None) is None  # a drone defines no onset-rate ratio
    assert met("seam_ratio", float("nan")) is None
    assert met("silence_onset_s", None) is True  # blank = never falls silent
    assert met("silence_onset_s", 12.5) is False


def test_a_group_is_judged_on_its_mean_and_counts_its_seeds():
    seeds = [{"seam_ratio": 1.0, "frame_repetition": 0.5, "silence_onset_s": None},
             {"seam_ratio": 1.1, "frame_repetition": 0.1, "silence_onset_s": None},
             {"seam_ratio": 2.5, "frame_repetition": 0.2, "silence_onset_s": 20.0}]
    mean = {"seam_ratio": 1.5333, "frame_repetition": 0.2667, "silence_onset_s": 20.0}
    verdicts = targets.judge_group(mean, seeds, REAL)
    assert verdicts["seam_ratio"] == Verdict(1.5333, False, 2, 3)  # the mean misses; 2 seeds of 3 meet it
    assert verdicts["frame_repetition"] == Verdict(0.2667, True, 2, 3)  # the mean meets it; 2 seeds of 3 do
    assert verdicts["silence_onset_s"].met is False  # one seed fell silent: the group did
    assert verdicts["silence_onset_s"].seeds_met == 2
    assert verdicts["onset_rate_ratio"] == Verdict(None, None, 0, 0)
    assert targets.count_met(verdicts) == (1, 3)  # judged: seams, repetition, silence; met: repetition
    assert targets.count_seed_cells(verdicts) == (6, 9)


def test_markdown_bolds_what_is_met_and_counts_each_column():
    run = targets.judge_run({"seam_ratio": 0.96, "frame_repetition": 0.36, "pitch_ratio": 1.04,
                             "flatness_ratio": 1.21, "kid_mfcc": 0.54, "frechet_mfcc_inf": 6447.0}, REAL)
    real = targets.judge_run({"seam_ratio": 0.97, "pitch_ratio": 0.78}, REAL)
    text = targets.markdown([("flagship", run), ("real", real)], note="a note")
    lines = text.splitlines()
    assert lines[0] == "| target | flagship | real |"
    seams = next(line for line in lines if line.startswith("| seam ratio"))
    assert seams == "| seam ratio <= 1.2 | **0.96** | **0.97** |"
    repetition = next(line for line in lines if line.startswith("| frame repetition"))
    assert "| 0.36 |" in repetition
    fd = next(line for line in lines if line.startswith("| FD-inf"))
    assert "| 6447 |" in fd  # 6447 > 3 x 300
    onset = next(line for line in lines if line.startswith("| onset-rate"))
    assert onset.count("(n/a)") == 2
    silent = next(line for line in lines if line.startswith("| never falls silent"))
    assert silent == "| never falls silent | **never** | **never** |"
    # Flagship: seams, flatness, KID, silence met; repetition, pitch, FD-inf missed; onset and drift undefined.
    assert lines[-3] == "| **targets met** | 4 of 7 | 2 of 3 |"
    assert text.rstrip().endswith("a note")


def test_the_composite_scales_its_terms_by_the_target_edges():
    """gen/composite's terms read 1.0 exactly at each target's upper edge: one source for the edges."""
    at_edges = {"seam_ratio": 1.2, "flatness_ratio": 2.0, "pitch_ratio": 1.03, "onset_rate_ratio": 2.0,
                "frame_repetition": 0.3, "frame_repetition_data": 0.0, "level_drift_db": 6.0}
    assert generation_check.composite(at_edges) == pytest.approx(1.0)
    for key, tolerance in generation_check.COMPOSITE_TOLERANCES.items():
        metric = "loudness_drop_db" if key == "level_drift_db" else key
        edge = targets.edge(metric)
        assert tolerance == (math.log(edge) if key.endswith("_ratio") else edge)
