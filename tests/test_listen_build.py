"""Tests of advaudio.evaluation.listening.build: blinding, loudness matching, anchors, trial layout, refusals."""
import json
import re

import numpy as np
import pytest
import soundfile as sf
from hypothesis import given, settings
from hypothesis import strategies as st

from advaudio.evaluation.listening import build as build_lib
from advaudio.listen.__main__ import main
from run_folders import make_run

SR = 16000




def two_tones(seconds: float = 1.5, sample_rate: int = SR) -> np.ndarray:
    """A 440 Hz tone plus a quieter 6 kHz tone (above the anchor's 3.5 kHz cutoff)."""
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    return 0.3 * np.sin(2 * np.pi * 440 * t) + 0.1 * np.sin(2 * np.pi * 6000 * t)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    reference = two_tones()
    rng = np.random.default_rng(0)
    good = make_run(root, "tonal_model", 0.8 * reference, reference)
    noisy = make_run(root, "noisy_model", 0.05 * rng.standard_normal(len(reference)), reference)
    return root, good, noisy


@pytest.fixture(scope="module")
def built(runs, tmp_path_factory):
    _, good, noisy = runs
    out = tmp_path_factory.mktemp("test") / "listen"
    key = build_lib.build([good, noisy], out, excerpt_seconds=0.5, trials=3, seed=7, ab_per_pair=2)
    return out, key


def stimuli_of(key, condition):
    return [sid for sid, info in key["stimuli"].items() if info["condition"] == condition]


def test_layout_and_trials(built):
    out, key = built
    for name in ("index.html", "app.js", "style.css", "test.json", "key.json"):
        assert (out / name).is_file()
    assert (out / "results").is_dir()
    public = json.loads((out / "test.json").read_text())
    ratings = [t for t in public["trials"] if t["type"] == "rating"]
    abs_ = [t for t in public["trials"] if t["type"] == "ab"]
    assert len(ratings) == 3 and len(abs_) == 2  # one pair of conditions, twice
    for trial in ratings:  # every condition, the hidden real excerpt and the lower anchor, once each
        conditions = sorted(key["stimuli"][s]["condition"] for s in trial["stimuli"])
        assert conditions == sorted(["tonal_model", "noisy_model", "reference", "anchor"])
    for trial in abs_:
        assert sorted(key["stimuli"][s]["condition"] for s in trial["stimuli"]) == ["noisy_model", "tonal_model"]
        assert [key["stimuli"][s]["condition"] for s in key["trials"][trial["id"]]["stimuli"]] == \
            key["trials"][trial["id"]]["conditions"]
    assert sorted(public["audio"]) == sorted(key["stimuli"])
    assert json.loads(re.search(r'<script id="test-data" type="application/json">(.*?)</script>',
                                (out / "index.html").read_text()).group(1)) == public
    assert public["scale"] == ["Bad", "Poor", "Fair", "Good", "Excellent"]


def test_condition_names_never_reach_the_page(built, runs):
    out, key = built
    root, _, _ = runs
    names = ["tonal_model", "noisy_model", str(root), "sample_0", "20260101"]
    for name in ("index.html", "app.js", "style.css", "test.json"):
        text = (out / name).read_text()
        for word in names:
            assert word not in text, (name, word)
    data = (out / "test.json").read_text() + re.search(r'application/json">(.*?)</script>',
                                                       (out / "index.html").read_text()).group(1)
    for word in ("reference", "anchor", "condition", "role", "gain"):  # nothing says which is which
        assert word not in data
    for path in (out / "audio").iterdir():
        assert re.fullmatch(r"[0-9a-f]{16}\.wav", path.name)
        info = sf.info(str(path))
        assert info.samplerate == SR and info.channels == 1 and info.subtype == "PCM_16"


def test_excerpts_are_loudness_matched_and_equal_length(built):
    out, key = built
    levels, lengths = [], []
    for sid in key["stimuli"]:
        audio, _ = sf.read(str(out / "audio" / f"{sid}.wav"))
        lengths.append(len(audio))
        levels.append(build_lib.rms(audio))
        assert np.max(np.abs(audio)) <= build_lib.PEAK_CEILING + 1e-3
    assert set(lengths) == {SR // 2}
    assert max(levels) / min(levels) == pytest.approx(1.0, abs=0.01)  # 16-bit rounding only


def test_hidden_reference_is_the_real_audio_and_anchor_is_lowpassed(built):
    out, key = built
    real = two_tones()
    for sid in stimuli_of(key, "reference"):
        info = key["stimuli"][sid]
        audio, _ = sf.read(str(out / "audio" / f"{sid}.wav"))
        start = int(round(info["start_seconds"] * SR))
        expected = build_lib.fade(real[start:start + len(audio)], SR) * 10 ** (info["gain_db"] / 20)
        np.testing.assert_allclose(audio, expected, atol=2e-4)
    spectrum = lambda x: np.abs(np.fft.rfft(x))  # noqa: E731
    freqs = np.fft.rfftfreq(SR // 2, 1 / SR)
    high = freqs > 5000
    for sid in stimuli_of(key, "anchor"):
        trial = key["stimuli"][sid]["trial"]
        (ref_id,) = [s for s in stimuli_of(key, "reference") if key["stimuli"][s]["trial"] == trial]
        anchor, _ = sf.read(str(out / "audio" / f"{sid}.wav"))
        ref, _ = sf.read(str(out / "audio" / f"{ref_id}.wav"))
        assert spectrum(anchor)[high].sum() < 0.01 * spectrum(ref)[high].sum()
        assert key["stimuli"][sid]["start_seconds"] == key["stimuli"][ref_id]["start_seconds"]


def test_seed_fixes_excerpts_but_ids_are_fresh(runs, tmp_path):
    _, good, noisy = runs
    first = build_lib.build([good, noisy], tmp_path / "a", excerpt_seconds=0.5, trials=2, seed=3)
    second = build_lib.build([good, noisy], tmp_path / "b", excerpt_seconds=0.5, trials=2, seed=3)
    starts = lambda key: sorted((v["trial"], v["condition"], v["start_seconds"]) for v in key["stimuli"].values())  # noqa: E731
    assert starts(first) == starts(second)
    assert not set(first["stimuli"]) & set(second["stimuli"])
    assert first["test_id"] != second["test_id"]


def test_noise_anchor_and_single_condition_pairs_with_reference(runs, tmp_path):
    _, good, _ = runs
    key = build_lib.build([good], tmp_path / "t", excerpt_seconds=0.5, trials=1, lower_anchor="noise")
    assert [v["conditions"] for v in key["trials"].values() if v["type"] == "ab"] == [["tonal_model", "reference"]]
    (anchor,) = stimuli_of(key, "anchor")
    audio, _ = sf.read(str(tmp_path / "t" / "audio" / f"{anchor}.wav"))
    flatness = np.exp(np.mean(np.log(np.abs(np.fft.rfft(audio))[1:] ** 2 + 1e-12))) / np.mean(
        np.abs(np.fft.rfft(audio))[1:] ** 2)
    assert flatness > 0.3  # white noise: a flat spectrum (a tone would be near 0)


def test_default_trials_and_excerpt_shortened_to_shortest_audio(runs, tmp_path):
    _, good, noisy = runs
    key = build_lib.build([good, noisy], tmp_path / "t", excerpt_seconds=60.0)
    assert key["excerpt_seconds"] == pytest.approx(1.5)
    assert sum(1 for t in key["trials"].values() if t["type"] == "rating") == 2  # two samples per run


def test_refusals(runs, tmp_path):
    root, good, noisy = runs
    reference = two_tones()
    other_rate = make_run(tmp_path, "fast", two_tones(sample_rate=8000), two_tones(sample_rate=8000),
                          sample_rate=8000)
    with pytest.raises(build_lib.BuildError, match="sample rates"):
        build_lib.build([good, other_rate], tmp_path / "x")
    other_data = make_run(tmp_path, "other_data", reference, reference, fingerprint="zzz")
    with pytest.raises(build_lib.BuildError, match="different data"):
        build_lib.build([good, other_data], tmp_path / "x")
    empty = make_run(tmp_path, "empty", reference, reference, samples=0)
    with pytest.raises(build_lib.BuildError, match="no generated samples"):
        build_lib.build([empty], tmp_path / "x")
    no_ref = make_run(tmp_path, "no_ref", reference, reference)
    (no_ref / "reference" / "test.wav").unlink()
    with pytest.raises(build_lib.BuildError, match="test.wav is missing"):
        build_lib.build([no_ref, good], tmp_path / "x")
    with pytest.raises(build_lib.BuildError, match="not a run folder"):
        build_lib.build([tmp_path], tmp_path / "x")
    short = make_run(tmp_path, "short", reference[: SR // 10], reference)
    with pytest.raises(build_lib.BuildError, match="at least"):
        build_lib.build([short], tmp_path / "x")
    with pytest.raises(build_lib.BuildError, match="twice"):
        build_lib.build([good, good], tmp_path / "x")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "something").write_text("x")
    with pytest.raises(build_lib.BuildError, match="not empty"):
        build_lib.build([good], tmp_path / "full")


def test_duplicate_experiment_names_get_the_run_folder(tmp_path):
    reference = two_tones()
    a = make_run(tmp_path / "one", "same", reference, reference)
    b = make_run(tmp_path / "two", "same", reference, reference)
    b = b.rename(b.parent / "20260102-000000")
    key = build_lib.build([a, b], tmp_path / "t", excerpt_seconds=0.5, trials=1)
    assert key["conditions"] == ["same/20260101-000000", "same/20260102-000000"]


def test_rms_and_fade_hand_computed():
    assert build_lib.rms(np.array([3.0, -4.0])) == pytest.approx(np.sqrt(12.5))
    faded = build_lib.fade(np.ones(100), sample_rate=1000, seconds=0.004)  # 4-sample ramps
    np.testing.assert_allclose(faded[:4], [0.0, 0.5 - 0.5 * np.cos(np.pi / 4), 0.5, 0.5 + 0.5 * np.cos(np.pi / 4)])
    np.testing.assert_allclose(faded[-4:], faded[:4][::-1])
    assert np.all(faded[4:-4] == 1.0)


def test_match_loudness_hand_computed():
    quiet = np.full(10, 0.01)
    loud = np.array([0.5, -0.5] * 5)
    peaky = np.zeros(10)
    peaky[0] = 1.0  # rms sqrt(0.1), peak 1: at -26 dBFS (0.0501) it stays below the ceiling
    (a, b, c), gains = build_lib.match_loudness([quiet, loud, peaky])
    target = 10 ** (-26 / 20)
    assert build_lib.rms(a) == pytest.approx(target) and build_lib.rms(b) == pytest.approx(target)
    assert gains[0] == pytest.approx(20 * np.log10(target / 0.01))
    (x, y), _ = build_lib.match_loudness([np.array([1.0, 0.0, 0.0, 0.0]), loud], target_dbfs=0.0)
    # the peaky signal (rms 0.5, peak 1) limits the common level to 0.98 * 0.5
    assert build_lib.rms(x) == pytest.approx(0.49) and build_lib.rms(y) == pytest.approx(0.49)
    (s,), gains = build_lib.match_loudness([np.zeros(5)])
    assert gains == [None] and np.all(s == 0)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(st.floats(-1, 1, allow_nan=False), min_size=4, max_size=40), min_size=1, max_size=5))
def test_match_loudness_property(signals):
    arrays = [np.array(s) for s in signals]
    scaled, gains = build_lib.match_loudness(arrays)
    loud = [x for x, g in zip(scaled, gains, strict=True) if g is not None]
    for x in scaled:
        assert np.max(np.abs(x)) <= build_lib.PEAK_CEILING + 1e-9 or build_lib.rms(x) < build_lib.SILENCE_RMS
    if loud:
        levels = [build_lib.rms(x) for x in loud]
        assert max(levels) == pytest.approx(min(levels), rel=1e-9)
        assert levels[0] <= 10 ** (build_lib.TARGET_RMS_DBFS / 20) * (1 + 1e-9)


def test_embed_json_cannot_close_the_script():
    text = build_lib.embed_json({"x": "</script><script>alert(1)</script> & <!--"})
    assert "<" not in text and ">" not in text and json.loads(text)["x"].startswith("</script>")


def test_cli_build(runs, tmp_path, capsys):
    _, good, noisy = runs
    assert main(["build", str(good), str(noisy), "--out", str(tmp_path / "t"), "--excerpt-seconds", "0.5",
                 "--trials", "1", "--seed", "1"]) == 0
    assert "key.json" in capsys.readouterr().out
    assert main(["build", str(good), "--out", str(tmp_path / "t")]) == 2  # not empty
    assert "not empty" in capsys.readouterr().err
