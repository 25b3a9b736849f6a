"""Tests of advaudio.evaluation.report (python -m advaudio.compare) on tiny fake run folders."""
import base64
import csv
import io
import json
import os
import re
import subprocess
import sys
import warnings
from copy import deepcopy
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from advaudio.config import Experiment, save_json
from advaudio.evaluation import metrics
from advaudio.evaluation import report

SR = 16000
FRAME_LENGTH = FRAME_HOP = 200
REPO = Path(__file__).resolve().parents[1]


def sine(freq, seconds=1.5, amplitude=0.5, sample_rate=SR):
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    return amplitude * np.sin(2 * np.pi * freq * t)


def music(seconds=2.0, sample_rate=SR):
    """Decaying notes every 0.5 s over a quiet drone."""
    y = 0.1 * sine(220, seconds, sample_rate=sample_rate)
    for onset in np.arange(0.125, seconds, 0.5):
        s = int(onset * sample_rate)
        t = np.arange(y.size - s) / sample_rate
        y[s:] += 0.5 * np.sin(2 * np.pi * 660 * t) * np.exp(-20 * t)
    return y


def write_wav(path, audio, sample_rate=SR):
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), np.asarray(audio, dtype=np.float32), sample_rate, subtype="FLOAT")


def make_run(root, experiment, samples, fingerprint="f00d", sample_rate=SR, log_terms=("rec/mse",), objective="mse",
             seed=0, stamp="20260101-120000", learning_rate=1e-3, seed_position=0):
    """A run folder following the run folder contract, with the given sample audio."""
    run = root / experiment / stamp
    cfg = Experiment(name=experiment)
    cfg.data.sample_rate, cfg.data.frame_length, cfg.data.frame_hop = sample_rate, FRAME_LENGTH, FRAME_HOP
    cfg.objective.name = objective
    cfg.train.seed, cfg.train.learning_rate = seed, learning_rate
    run.mkdir(parents=True)
    save_json(cfg, run / "config.json")
    (run / "data.json").write_text(json.dumps({
        "source": "default", "sample_rate": sample_rate, "fingerprint": fingerprint,
        "seconds": {"train": 3.0, "valid": 2.0, "test": 2.0}, "files": {},
    }))
    write_wav(run / "reference" / "train.wav", music(3.0, sample_rate), sample_rate)
    write_wav(run / "reference" / "valid.wav", music(2.0, sample_rate), sample_rate)
    write_wav(run / "reference" / "test.wav", music(2.0, sample_rate), sample_rate)
    header = ["epoch", "loss", "val_loss", *log_terms]
    lines = [",".join(header)] + [
        ",".join(str(v) for v in [epoch, 1.0 / epoch, 1.2 / epoch] + [0.5 / epoch] * len(log_terms))
        for epoch in (1, 2, 3)
    ]
    (run / "log.csv").write_text("\n".join(lines) + "\n")
    for index, audio in enumerate(samples):
        name = f"sample_{index:03d}"
        write_wav(run / "samples" / f"{name}.wav", audio, sample_rate)
        write_wav(run / "samples" / "seeds" / f"{name}.wav", music(0.5, sample_rate)[: 2 * FRAME_LENGTH], sample_rate)
        (run / "samples" / f"{name}.json").write_text(json.dumps({
            "run": str(run), "checkpoint": "checkpoints/generator-best.weights.h5", "seed_split": "valid",
            "seed_position": seed_position, "seed_frames": 2, "stitch": "concat", "sample_rate": sample_rate, "seconds": len(audio) / sample_rate,
            "model_step": 6, "frame_length": FRAME_LENGTH, "frame_hop": FRAME_HOP, "experiment": experiment,
        }))
    return run


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    # Two tones of known loudness: -9.0309 and -15.0515 dBFS, mean -12.0412.
    loud = make_run(root, "mse", [sine(440, amplitude=0.5), sine(440, amplitude=0.25)])
    # A sawtooth with the frame hop as its period: seam ratio exactly FRAME_HOP - 1.
    saw = np.tile(np.arange(FRAME_HOP) / FRAME_HOP - 0.5, int(1.5 * SR) // FRAME_HOP)
    clicky = make_run(root, "spectral", [saw], log_terms=("rec/mse", "spec/sc"), objective="spectral")
    return root, loud, clicky


@pytest.fixture(scope="module")
def compared(runs, tmp_path_factory):
    _, loud, clicky = runs
    out = tmp_path_factory.mktemp("compare")
    stderr = io.StringIO()
    old = sys.stderr
    sys.stderr = stderr
    try:
        status = report.main([str(loud), str(clicky), "--out", str(out)])
    finally:
        sys.stderr = old
    return status, out, stderr.getvalue()


def read_table(path):
    with open(path, newline="") as handle:
        return {row["run"]: row for row in csv.DictReader(handle)}


@pytest.mark.slow
def test_compare_writes_every_output(compared):
    status, out, progress = compared
    assert status == 0
    for name in ("metrics.md", "metrics.csv", "samples.csv", "spectrograms.png", "learning_curves.png", "loudness.png",
                 "spread.png", "ranking.md", "targets.md", "report.html"):
        assert (out / name).stat().st_size > 0, name
    assert "[1/2] scoring" in progress and "[2/2] scoring" in progress and "real baseline" in progress


@pytest.mark.slow
def test_table_holds_the_means_of_known_metrics(compared):
    _, out, _ = compared
    table = read_table(out / "metrics.csv")
    assert list(table) == ["mse", "spectral", "real"]  # one group per experiment, one seed each
    assert list(next(iter(table.values()))) == list(report.CSV_COLUMNS)
    mse, spectral, real = table["mse"], table["spectral"], table["real"]
    assert int(mse["samples"]) == 2 and int(spectral["samples"]) == 1
    assert int(mse["seeds"]) == 1 and mse["loudness_db_ci95"] == ""  # one seed: no interval
    expected = (20 * np.log10(0.5 / np.sqrt(2)) + 20 * np.log10(0.25 / np.sqrt(2))) / 2
    assert float(mse["loudness_db"]) == pytest.approx(expected, abs=1e-3)
    assert float(spectral["seam_ratio"]) == pytest.approx(FRAME_HOP - 1, rel=1e-4)
    assert float(mse["duration_s"]) == pytest.approx(1.5)
    assert mse["silence_onset_s"] == ""  # undefined for both samples: blank, not 0
    # The real baseline: the test split's music against the train split's: close and equally fast.
    assert float(real["onset_rate_ratio"]) == pytest.approx(1.0, abs=0.01)
    assert float(real["flatness_ratio"]) == pytest.approx(1.0, abs=0.2)
    assert real["seed_copy"] == ""
    markdown = (out / "metrics.md").read_text()
    mse_line = next(line for line in markdown.splitlines() if line.startswith("| mse |"))
    assert f"| {expected:.4g} |" in mse_line
    assert markdown.splitlines()[0] == "| " + " | ".join(report.TABLE_COLUMNS) + " |"
    samples = read_table(out / "samples.csv")  # keyed by run: the last sample of each
    assert float(samples["mse/20260101-120000"]["loudness_db"]) == pytest.approx(20 * np.log10(0.25 / np.sqrt(2)), abs=1e-3)


@pytest.mark.slow
def test_report_is_self_contained_with_players_plots_and_table(compared, runs):
    _, out, _ = compared
    _, loud, _ = runs
    page = (out / "report.html").read_text()
    sources = re.findall(r"src=['\"]([^'\"]*)['\"]", page)
    assert sources and all(s.startswith("data:") for s in sources)
    assert "href=" not in page
    audio = [s for s in sources if s.startswith("data:audio/wav;base64,")]
    images = [s for s in sources if s.startswith("data:image/png;base64,")]
    assert len(audio) == 2 + 1 + 1  # two samples, one sample, the real excerpt
    assert len(images) == 4  # spectrograms, spread over seeds, learning curves, loudness
    decoded, rate = sf.read(io.BytesIO(base64.b64decode(audio[0].split(",", 1)[1])))
    original, _ = sf.read(str(loud / "samples" / "sample_000.wav"))
    assert rate == SR
    np.testing.assert_allclose(decoded, original, atol=1 / 32767 + 1e-6)
    assert "<table>" in page and "frechet_mfcc" in page and "objective spectral" in page
    assert "Which metric ranks which failure" in page and "time_reversed" in page
    assert "One seed, so no interval" in page and "train split" in page
    assert set(report.METRIC_HELP) == set(metrics.METRIC_KEYS)  # every column is explained
    assert page.count("<td>sample_000.wav</td>") == 2 and page.count("<td>sample_001.wav</td>") == 1


@pytest.mark.slow
def test_targets_table_judges_each_group_and_real_audio(compared):
    """targets.md and the report's Targets table: the clicking sawtooth misses the seam target by its known
    ratio; the real excerpt (music against music) meets it; a column per group and one for real."""
    _, out, _ = compared
    lines = (out / "targets.md").read_text().splitlines()
    assert lines[0] == "| target | mse | spectral | real |"
    seams = next(line for line in lines if line.startswith("| seam ratio <= 1.2 |")).split(" | ")
    assert seams[2] == f"{FRAME_HOP - 1} (0/1 seeds)"  # the sawtooth: jumps of a whole period at every seam
    assert seams[3].startswith("**")  # real music against real music: no clicks
    assert next(line for line in lines if line.startswith("| never falls silent |")).count("**never**") == 3
    assert next(l for l in lines if l.startswith("| **targets met**")).count(" of ") == 5
    page = (out / "report.html").read_text()
    assert "<h2>Targets</h2>" in page and "#f6d6d6" in page and "#d8f0d8" in page


def test_learning_curves_use_loss_val_loss_and_shared_terms(runs):
    _, loud, clicky = runs
    loaded = [report.load_run(loud), report.load_run(clicky)]
    assert report.shared_log_terms(loaded) == ["loss", "val_loss", "rec/mse"]
    assert loaded[1].log["spec/sc"] == [0.5, 0.25, 0.5 / 3]


def test_runs_on_different_data_are_refused(runs, tmp_path, capsys):
    _, loud, _ = runs
    other = make_run(tmp_path, "other_data", [sine(440)], fingerprint="beef")
    status = report.main([str(loud), str(other), "--out", str(tmp_path / "out")])
    message = capsys.readouterr().err
    assert status == 2
    assert str(loud) in message and str(other) in message and "f00d" in message and "beef" in message
    assert not (tmp_path / "out" / "metrics.csv").exists()


def test_runs_at_different_sample_rates_are_refused(runs, tmp_path):
    _, loud, _ = runs
    other = make_run(tmp_path, "other_rate", [sine(440, sample_rate=8000)], sample_rate=8000)
    with pytest.raises(report.CompareError, match=r"16000 Hz vs 8000 Hz") as error:
        report.compare([loud, other], tmp_path / "out")
    assert str(other) in str(error.value) and str(loud) in str(error.value)


def test_duplicate_labels_are_made_unique(runs):
    _, loud, _ = runs
    loaded = [report.load_run(loud), report.load_run(loud)]
    report.unique_labels(loaded)
    assert [r.label for r in loaded] == ["mse/20260101-120000", "mse/20260101-120000 #2"]


@pytest.mark.slow
def test_cli_names_the_path_and_the_fix_for_a_run_without_samples(tmp_path):
    run = tmp_path / "empty" / "20260101-000000"
    run.mkdir(parents=True)
    save_json(Experiment(), run / "config.json")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run(
        [sys.executable, "-m", "advaudio.compare", str(run), "--out", str(tmp_path / "out")],
        capture_output=True, text=True, cwd=REPO, env=env, timeout=120,
    )
    assert result.returncode == 2
    assert str(run / "samples") in result.stderr and f"python -m advaudio.generate {run}" in result.stderr


def test_a_folder_without_config_is_not_a_run(tmp_path, capsys):
    assert report.main([str(tmp_path), "--out", str(tmp_path / "out")]) == 2
    message = capsys.readouterr().err
    assert str(tmp_path) in message and "config.json" in message and "python -m advaudio.run" in message


def test_runs_without_a_fingerprint_fall_back_to_the_data_source(tmp_path):
    def run(name, source, fingerprint=None):
        data = {"source": source, "sample_rate": SR}
        if fingerprint:
            data["fingerprint"] = fingerprint
        return report.Run(path=tmp_path / name, label=name, config={"data": {"source": source}}, data=data,
                           sample_rate=SR, fingerprint=fingerprint)

    warnings = []
    report.check_compatible([run("a", "default", "f00d"), run("b", "default")], warn=warnings.append)
    assert len(warnings) == 1 and str(tmp_path / "b") in warnings[0] and "no data.json fingerprint" in warnings[0]
    with pytest.raises(report.CompareError, match=r"different data sources \('default' vs 'music/';"):
        report.check_compatible([run("a", "default"), run("b", "music/")])


def test_seed_band_ignores_missing_seeds_and_leaves_epochs_nobody_logged_blank():
    # Epoch 1: both seeds; epoch 2: seed 0 only; epoch 3: neither (a term undefined on this data).
    stacked = np.array([[1.0, 4.0, np.nan], [3.0, np.nan, np.nan]])
    mean, lowest, highest = report.seed_band(stacked)
    np.testing.assert_array_equal(mean[:2], [2.0, 4.0])
    np.testing.assert_array_equal(lowest[:2], [1.0, 4.0])
    np.testing.assert_array_equal(highest[:2], [3.0, 4.0])
    assert np.isnan(mean[2]) and np.isnan(lowest[2]) and np.isnan(highest[2])


def test_curves_of_a_term_no_seed_defines_plot_without_warnings(tmp_path):
    # gen/onset_rate_ratio is NaN in every epoch on a drone: the panel stays empty, numpy says nothing.
    logs = [{"epoch": [1, 2], "loss": [1.0, 0.5], "gen/onset_rate_ratio": [float("nan")] * 2},
            {"epoch": [1, 2], "loss": [0.8, 0.4], "gen/onset_rate_ratio": [float("nan")] * 2}]
    runs = [report.Run(path=tmp_path / f"r{i}", label=f"r{i}", config={}, data={}, sample_rate=16000, fingerprint=None,
                       log=log)
            for i, log in enumerate(logs)]
    group = report.Group(label="g", runs=runs)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert report.plot_compared_curves(runs, tmp_path / "curves.png", groups=[group])
    assert (tmp_path / "curves.png").stat().st_size > 0


def test_grid_note_flags_a_reference_that_beats_in_whole_hops_and_only_that():
    sr, hop = 16000, 2000
    rng = np.random.default_rng(5)
    t = np.arange(int(0.2 * sr)) / sr
    note = np.sin(2 * np.pi * 440 * t) * np.exp(-t / 0.06)

    def beats(period, seconds=20.0):
        audio = 0.01 * rng.standard_normal(int(seconds * sr))
        for start in range(500, audio.size - note.size, period):
            audio[start:start + note.size] += note
        return audio

    on_beat = metrics.ReferenceProfile(beats(8000), sr)
    on_grid = report.grid_note(on_beat, hop, frame_length=2 * hop)  # 120 BPM: 4 hops a beat
    assert on_grid is not None and "2000-sample frame hop" in on_grid
    assert float(re.search(r"([\d.]+) BPM\), ([\d.]+) hops", on_grid).group(2)) == pytest.approx(4.0, abs=0.02)
    # it names a hop the beat does not share, with the frame length in the run's proportion
    suggested = re.search(r"--set data.frame_hop=(\d+) --set data.frame_length=(\d+) \(the reference's onset_locking "
                          r"on that grid: ([\d.]+)\)", on_grid)
    new_hop, new_length = int(suggested.group(1)), int(suggested.group(2))
    assert new_hop != hop and new_length == 2 * new_hop and 8000 % new_hop != 0
    assert on_beat.onset_locking(new_hop) < metrics.GRID_LOCKED / 2 < metrics.GRID_LOCKED <= on_beat.onset_locking(hop)
    assert float(suggested.group(3)) == pytest.approx(on_beat.onset_locking(new_hop), abs=0.005)
    candidates = [int(round(hop * factor)) for factor in report.OFF_GRID_FACTORS]
    assert report.off_grid_hop(on_beat, hop) == (new_hop, pytest.approx(min(on_beat.onset_locking(h) for h in candidates)))
    assert report.off_grid_hop(on_beat, hop)[0] != 1600  # 8000 is 5 hops of 1600: a factor of 0.8 would lock again
    assert report.grid_note(metrics.ReferenceProfile(beats(9600), sr), hop) is None  # 100 BPM: 4.8 hops, the onsets' phases spread
    assert report.grid_note(metrics.ReferenceProfile(sine(220, 5.0), sr), hop) is None  # no onsets: nothing to lock


def test_compare_writes_the_grid_caveat_into_the_table_and_report(tmp_path):
    run = make_run(tmp_path, "mse", [sine(440)])
    write_wav(run / "reference" / "train.wav", music(8.0))  # notes every 8000 samples: 40 hops of FRAME_HOP
    files = report.compare([run], tmp_path / "out", real=False)
    table = files["markdown"].read_text()
    assert f"lock to the {FRAME_HOP}-sample frame hop" in table
    assert "Frame grid:" in files["report"].read_text()
    hop, length = map(int, re.search(r"--set data.frame_hop=(\d+) --set data.frame_length=(\d+)", table).groups())
    assert hop != FRAME_HOP and length == round(FRAME_LENGTH * hop / FRAME_HOP)  # the run's frames, in proportion


def test_mean_interval_by_hand():
    # n = 3, mean 2, s = 1: half-width = t_{0.975, 2} / sqrt(3) = 4.302652729911275 / 1.7320508075688772.
    mean, half = report.mean_interval([1.0, 2.0, 3.0])
    assert mean == pytest.approx(2.0) and half == pytest.approx(4.302652729911275 / np.sqrt(3))
    assert report.mean_interval([5.0]) == (5.0, None) and report.mean_interval([]) == (None, None)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    """Three seeds of one experiment (tones of known loudness), one run of the same name with another
    learning rate, and one other experiment."""
    root = tmp_path_factory.mktemp("seeded")
    amplitudes = (0.5, 0.25, 0.125)
    seeds = [make_run(root, "mse", [sine(440, amplitude=a)], seed=i, stamp=f"2026010{i + 1}-120000", seed_position=100 * i)
             for i, a in enumerate(amplitudes)]
    other_config = make_run(root, "mse", [sine(440)], seed=0, stamp="20260109-120000", learning_rate=1e-4)
    spectral = make_run(root, "spectral", [sine(440)], objective="spectral")
    out = root / "out"
    status = report.main([str(p) for p in (*seeds, other_config, spectral)] + ["--out", str(out), "--per-run"])
    return status, out, amplitudes, seeds


@pytest.mark.slow
def test_runs_differing_only_in_seed_are_grouped_with_a_t_interval(seeded):
    status, out, amplitudes, _ = seeded
    assert status == 0
    table = read_table(out / "metrics.csv")
    assert list(table)[:3] == ["mse", "mse (config 2)", "spectral"]
    assert list(table)[-1] == "real"
    group = table["mse"]
    assert int(group["seeds"]) == 3 and int(group["samples"]) == 3
    loudness = [20 * np.log10(a / np.sqrt(2)) for a in amplitudes]  # -9.03, -15.05, -21.07 dBFS
    half = 4.302652729911275 * np.std(loudness, ddof=1) / np.sqrt(3)
    assert float(group["loudness_db"]) == pytest.approx(np.mean(loudness), abs=1e-3)
    assert float(group["loudness_db_ci95"]) == pytest.approx(half, rel=1e-3)
    assert int(table["mse (config 2)"]["seeds"]) == 1 and table["mse (config 2)"]["loudness_db_ci95"] == ""
    # --per-run: one row per run, labelled with its seed, holding that run's own value.
    per_run = [label for label in table if "(seed " in label]
    assert len(per_run) == 5
    assert float(table["mse/20260102-120000 (seed 1)"]["loudness_db"]) == pytest.approx(loudness[1], abs=1e-3)
    markdown = (out / "metrics.md").read_text()
    line = next(l for l in markdown.splitlines() if l.startswith("| mse | 3 | 3 |"))
    assert f"{np.mean(loudness):.4g} ± {half:.2g}" in line
    assert "95% t interval over seeds" in markdown
    page = (out / "report.html").read_text()
    assert "(3 seeds: 0, 1, 2)" in page and "One seed, so no interval" in page and "mse (config 2)" in page
    assert (out / "spread.png").stat().st_size > 0


@pytest.mark.slow
def test_targets_of_a_seed_group_count_the_seeds_that_meet_them(seeded):
    _, out, _, _ = seeded
    lines = (out / "targets.md").read_text().splitlines()
    header = lines[0].split(" | ")
    assert header[1] == "mse" and "mse/20260102-120000 (seed 1)" in header and header[-1] == "real |"
    silence = next(line for line in lines if line.startswith("| never falls silent |")).split(" | ")
    assert silence[1] == "**never** (3/3 seeds)" and silence[header.index("mse/20260102-120000 (seed 1)")] == "**never**"
    drift = next(line for line in lines if line.startswith("| loudness drift")).split(" | ")
    assert drift[1].startswith("**") and drift[1].endswith("(3/3 seeds)")  # steady tones: no drift in any seed


@pytest.mark.slow
def test_seed_grouping_ignores_only_the_seed(seeded, tmp_path):
    _, _, _, seeds = seeded
    runs = [report.load_run(p) for p in seeds]
    assert len({report.group_key(r) for r in runs}) == 1
    assert [report.run_seed(r) for r in runs] == [0, 1, 2]
    changed = report.load_run(seeds[0])
    changed.config["train"]["learning_rate"] = 0.5
    assert report.group_key(changed) != report.group_key(runs[0])


def test_revision_runs_over_the_seeds_of_one_experiment_form_one_group(tmp_path):
    """Revision passes over three seeds of one generator experiment are three seeds of one experiment (their
    revise.from_run folders differ); over another experiment, or with other revision settings, they are not."""
    from advaudio.config import to_dict

    def source(name, seed, learning_rate=1e-3):
        cfg = Experiment(name=name)
        cfg.train.seed, cfg.train.learning_rate = seed, learning_rate
        folder = tmp_path / name / f"seed{seed}-lr{learning_rate}"
        folder.mkdir(parents=True, exist_ok=True)
        save_json(cfg, folder / "config.json")
        return folder

    def revision(source_folder, rollouts=256):
        cfg = Experiment(name="revise")
        cfg.revise.from_run, cfg.revise.rollouts = str(source_folder), rollouts
        return report.Run(path=tmp_path / "r", label="r", config=to_dict(cfg), data={}, sample_rate=SR,
                          fingerprint=None)

    seeds = [revision(source("gan", seed)) for seed in (0, 1, 2)]
    assert len({report.group_key(r) for r in seeds}) == 1
    assert [report.run_seed(r) for r in seeds] == [0, 1, 2]
    assert [g.label for g in report.group_runs(seeds)] == ["revise"]
    other_source = revision(source("gan", 0, learning_rate=1e-4))
    other_setting = revision(source("gan", 0), rollouts=64)
    assert [g.label for g in report.group_runs([*seeds, other_source, other_setting])] == [
        "revise", "revise (config 2)", "revise (config 3)"]
    # A run folder from before a config key existed (here model.layer_noise) is the same experiment.
    older = deepcopy(seeds[1].config)
    del older["model"]["layer_noise"]
    del older["objective"]["adversarial"]["d_start_step"]
    older_run = report.Run(path=tmp_path / "o", label="o", config=older, data={}, sample_rate=SR, fingerprint=None)
    assert report.group_key(older_run) == report.group_key(seeds[0])
    custom = deepcopy(seeds[1].config)
    custom["objective"]["loss_weights"] = {"spec/sc": 1.0}  # a user mapping is not filled from the default one
    custom_run = report.Run(path=tmp_path / "c", label="c", config=custom, data={}, sample_rate=SR, fingerprint=None)
    assert json.loads(report.group_key(custom_run))["objective"]["loss_weights"] == {"spec/sc": 1.0}
    # A source folder that is gone: the path stays in the key, the run's own seed is its seed.
    gone = revision(tmp_path / "gone")
    assert report.group_key(gone) != report.group_key(seeds[0]) and report.run_seed(gone) == 0


@pytest.mark.slow
def test_reference_is_a_choice_and_seed_regions_are_cut_out(seeded, tmp_path):
    _, _, _, seeds = seeded
    valid, rate = metrics.read_audio(seeds[0] / "reference" / "valid.wav")
    # Seeds at 0, 100 and 200 in the valid split, each 2 frames of 200 = 400 samples: [0, 600) is cut.
    audio, sample_rate, note = metrics.load_reference(seeds, "valid")
    assert sample_rate == rate and audio.size == valid.size - 600
    np.testing.assert_array_equal(audio, valid[600:])
    assert "3 seed region(s) excluded" in note
    train, _ = metrics.read_audio(seeds[0] / "reference" / "train.wav")
    np.testing.assert_array_equal(metrics.load_reference(seeds, "train")[0], train)  # no seed comes from train
    path = tmp_path / "file.wav"
    write_wav(path, sine(330, 1.0))
    assert metrics.load_reference(seeds, str(path))[0].size == SR
    with pytest.raises(metrics.RunFolderError, match="neither a split"):
        metrics.load_reference(seeds, "nonsense")
    other_rate = tmp_path / "rate.wav"
    write_wav(other_rate, sine(330, 1.0, sample_rate=8000), 8000)
    with pytest.raises(report.CompareError, match="8000 Hz but the runs are at 16000 Hz"):
        report.compare(seeds, tmp_path / "out", reference=other_rate)


@pytest.mark.slow
def test_real_is_an_unseen_excerpt_of_the_samples_length(seeded):
    _, _, _, seeds = seeded
    test, _ = metrics.read_audio(seeds[0] / "reference" / "test.wav")
    excerpt, note = metrics.unseen_excerpt(seeds[0], "train", int(1.5 * SR))
    np.testing.assert_array_equal(excerpt, test[: int(1.5 * SR)])
    assert "test split" in note
    valid, _ = metrics.read_audio(seeds[0] / "reference" / "valid.wav")
    excerpt, note = metrics.unseen_excerpt(seeds[0], "test", 10 * SR)  # longer than the split: all of valid
    np.testing.assert_array_equal(excerpt, valid)
    assert "valid split" in note and "shorter than the samples" in note


@pytest.mark.slow
def test_ranking_report_says_which_metric_ranks_which_failure(seeded):
    _, out, _, _ = seeded
    ranking = (out / "ranking.md").read_text()
    for failure in metrics.KNOWN_FAILURES:
        assert f"| {failure} |" in ranking
    for key in metrics.DISTRIBUTION_METRICS:
        assert f"- {key}: headlined for" in ranking
    # Averaged spectra are blind to time reversal, whatever the data.
    line = next(l for l in ranking.splitlines() if l.startswith("- mr_stft:"))
    assert "cannot rank" in line and "time_reversed" in line.split("cannot rank")[1]


def add_samples_folder(run, name, samples):
    """Another samples folder in `run` (as `python -m advaudio.generate RUN --out RUN/<name>` writes it)."""
    for index, audio in enumerate(samples):
        stem = f"sample_{index:03d}"
        write_wav(run / name / f"{stem}.wav", audio)
        write_wav(run / name / "seeds" / f"{stem}.wav", music(0.5)[: 2 * FRAME_LENGTH])
        sidecar = json.loads((run / "samples" / f"{stem}.json").read_text())
        (run / name / f"{stem}.json").write_text(json.dumps(sidecar))
    return run / name


def test_a_samples_folder_of_a_run_is_located_in_its_run(tmp_path):
    run = make_run(tmp_path, "revise", [sine(440)])
    other = add_samples_folder(run, "samples-unrevised", [sine(440)])
    assert metrics.locate(run) == (run, run / "samples")
    assert metrics.locate(other) == (run, other)
    assert metrics.sample_paths(other) == [other / "sample_000.wav"]
    loaded = report.load_run(other)
    assert (loaded.label, loaded.samples, loaded.config["name"]) == (
        "revise/20260101-120000/samples-unrevised", "samples-unrevised", "revise")
    assert report.group_key(loaded) != report.group_key(report.load_run(run))
    (other / "sample_000.wav").unlink()
    with pytest.raises(metrics.RunFolderError, match="samples-unrevised holds no generated audio"):
        report.load_run(other)


@pytest.mark.slow
def test_samples_folders_of_runs_are_scored_as_their_own_group(tmp_path):
    """With and without a revision pass, over two seeds: RUN and RUN/samples-unrevised are two groups."""
    runs = [make_run(tmp_path, "revise", [sine(440, amplitude=0.5)], seed=i, stamp=f"2026010{i + 1}-120000")
            for i in range(2)]
    unrevised = [add_samples_folder(run, "samples-unrevised", [sine(440, amplitude=0.125)]) for run in runs]
    out = tmp_path / "out"
    assert report.main([str(p) for p in (*runs, *unrevised)] + ["--out", str(out), "--per-run"]) == 0
    table = read_table(out / "metrics.csv")
    assert int(table["revise"]["seeds"]) == 2 and int(table["revise [samples-unrevised]"]["seeds"]) == 2
    # Each group scored its own audio: -9.03 dBFS against -21.07 dBFS.
    assert float(table["revise"]["loudness_db"]) == pytest.approx(20 * np.log10(0.5 / np.sqrt(2)), abs=1e-3)
    assert float(table["revise [samples-unrevised]"]["loudness_db"]) == pytest.approx(
        20 * np.log10(0.125 / np.sqrt(2)), abs=1e-3)
    assert "revise/20260102-120000/samples-unrevised (seed 1)" in table
