"""Known failures must score worse than real audio: the distribution metrics of advaudio.evaluation.metrics
on synthetic drum-and-bass music made here (kick, snare, hats, a gliding bass, sustained pad chords, sweeps)."""
import numpy as np
import pytest

from advaudio.evaluation import metrics

SR = 16000
FRAME_LENGTH = FRAME_HOP = 4000


def drum_and_bass(seconds, seed, sample_rate=SR, bpm=170.0):
    """Two-step drums, a bass line gliding up or down on every beat, a pad chord per bar, a sweep every 4 bars."""
    rng = np.random.default_rng(seed)
    n = int(seconds * sample_rate)
    y = np.zeros(n)
    beat = 60.0 / bpm
    step = beat / 2
    bar = 8 * step

    def place(start, signal):
        s = int(start * sample_rate)
        if s < n:
            y[s : s + signal.size] += signal[: n - s]

    def times(duration):
        return np.arange(int(duration * sample_rate)) / sample_rate

    t = times(0.3)
    kick = np.sin(2 * np.pi * np.cumsum(50 + 100 * np.exp(-30 * t)) / sample_rate) * np.exp(-12 * t)
    bass_notes = [82.4, 82.4, 98.0, 73.4, 110.0, 82.4, 123.4, 92.4]
    chords = [(220.0, 261.6, 329.6), (196.0, 246.9, 293.7), (174.6, 220.0, 261.6), (196.0, 246.9, 311.1)]
    for b in range(int(np.ceil(seconds / bar))):
        start = b * bar
        for k in (0, 5):
            place(start + k * step, 0.6 * kick * rng.uniform(0.8, 1.0))
        for k in (2, 6):
            t = times(0.2)
            snare = 0.5 * rng.standard_normal(t.size) * np.exp(-25 * t) + 0.3 * np.sin(2 * np.pi * 190 * t) * np.exp(-20 * t)
            place(start + k * step + rng.uniform(0, 0.005), 0.4 * snare)
        for k in range(16):
            t = times(0.05)
            place(start + k * step / 2, 0.08 * rng.uniform(0.5, 1.0) * np.diff(rng.standard_normal(t.size + 1)) * np.exp(-80 * t))
        for k in range(4):
            t = times(beat)
            glide = bass_notes[(4 * b + k) % len(bass_notes)] * (1 + rng.choice([-0.3, 0.0, 0.5]) * t / beat)
            phase = 2 * np.pi * np.cumsum(glide) / sample_rate
            tone = np.sin(phase) + 0.3 * np.sin(2 * phase) + 0.15 * np.sin(3 * phase)
            place(start + k * beat, 0.25 * tone * np.minimum(1, 200 * t) * np.exp(-2 * t))
        t = times(bar)
        envelope = np.minimum(1, t / 0.3) * np.minimum(1, (bar - t) / 0.3)
        place(start, 0.05 * envelope * sum(np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi)) for f in chords[b % 4]))
        if b % 4 == 2:
            t = times(2 * beat)
            sweep = 300 * 4 ** (t / (2 * beat))
            place(start, 0.04 * np.sin(2 * np.pi * np.cumsum(sweep) / sample_rate) * np.sin(np.pi * t / (2 * beat)))
    return 0.8 * y / np.max(np.abs(y))


@pytest.fixture(scope="module", params=[0, 1])
def ranked(request):
    """The reference (what the model learned) and an unseen excerpt are different renditions of the pattern."""
    reference = drum_and_bass(30.0, seed=10 + request.param)
    excerpt = drum_and_bass(15.0, seed=20 + request.param)
    return metrics.rank_known_failures(excerpt, reference, SR, FRAME_LENGTH, FRAME_HOP)


@pytest.mark.slow
def test_every_headlined_metric_ranks_its_failures_below_real_audio(ranked):
    real = ranked["real"]
    for metric, failures in metrics.RANKS.items():
        for failure in failures:
            assert metrics.ranks_below(real[metric], ranked[failure][metric]), (metric, failure, real[metric], ranked[failure][metric])


@pytest.mark.slow
def test_the_kernel_and_bias_corrected_frechet_distances_rank_every_known_failure(ranked):
    assert set(metrics.RANKS["kid_mfcc"]) == set(metrics.RANKS["frechet_mfcc_inf"]) == set(metrics.KNOWN_FAILURES)
    assert set(ranked) == {"real", *metrics.KNOWN_FAILURES}


@pytest.mark.slow
def test_averaged_spectra_cannot_see_time_reversal(ranked):
    """Why mr_stft is not headlined for reversal: a reversed excerpt has the very same average spectrum."""
    assert not metrics.ranks_below(ranked["real"]["mr_stft"], ranked["time_reversed"]["mr_stft"])
    assert "time_reversed" not in metrics.RANKS["mr_stft"]


def test_ranks_below_needs_a_margin():
    assert metrics.ranks_below(1.0, 1.1) and not metrics.ranks_below(1.0, 1.01) and not metrics.ranks_below(1.0, 0.5)
    assert metrics.ranks_below(-0.001, 0.5) and not metrics.ranks_below(None, 1.0)


def test_known_failures_are_what_they_say():
    excerpt = drum_and_bass(4.0, seed=3)
    made = metrics.known_failures(excerpt, SR, FRAME_LENGTH, FRAME_HOP)
    assert set(made) == set(metrics.KNOWN_FAILURES) and all(a.size == excerpt.size for a in made.values())
    assert metrics.frame_repetition(made["frozen_loop"], FRAME_LENGTH, FRAME_HOP) == pytest.approx(1.0)
    assert metrics.rms(made["white_noise"]) == pytest.approx(metrics.rms(excerpt), rel=0.01)
    assert metrics.spectral_flatness(made["white_noise"]) == pytest.approx(0.56, abs=0.03)
    spectrum = metrics.average_power_spectrum(made["low_passed"])
    bins = np.fft.rfftfreq(2048, 1 / SR)
    assert spectrum[bins > 4 * metrics.LOW_PASS_HZ].sum() < 1e-6 * spectrum.sum()
    clicks = made["click_striped"] - excerpt
    assert np.flatnonzero(clicks).tolist() == list(range(FRAME_HOP - 1, excerpt.size, FRAME_HOP))
    np.testing.assert_array_equal(made["time_reversed"], excerpt[::-1])


def test_kernel_distance_by_hand():
    # d = 1, degree 3: k(a, b) = (a b + 1)^3. x = {0, 1}, y = {1, 2}.
    # k_xx off-diagonal: (0 + 1)^3 = 1 (twice) -> mean 1; k_yy: (2 + 1)^3 = 27 -> mean 27;
    # k_xy: (0+1)^3, (0+1)^3, (1+1)^3, (2+1)^3 = 1, 1, 8, 27 -> mean 37 / 4.
    x, y = np.array([[0.0], [1.0]]), np.array([[1.0], [2.0]])
    assert metrics.kernel_distance(x, y) == pytest.approx(1 + 27 - 2 * 37 / 4)


@pytest.mark.slow
def test_kernel_distance_is_unbiased_and_frechet_extrapolation_removes_most_of_the_bias():
    """Same Gaussian on both sides: the true distance is 0. The plug-in Frechet distance of
    small samples is biased upwards; KID averages to 0; FD-infinity is much nearer 0."""
    rng = np.random.default_rng(0)
    kid, plain, extrapolated = [], [], []
    for _ in range(20):
        x, y = rng.standard_normal((120, 6)), rng.standard_normal((400, 6))
        kid.append(metrics.kernel_distance(x, y))
        plain.append(metrics.frechet_distance(x.mean(0), np.cov(x, rowvar=False), y.mean(0), np.cov(y, rowvar=False)))
        extrapolated.append(metrics.frechet_distance_extrapolated(x, y))
    assert abs(np.mean(kid)) < 3 * np.std(kid) / np.sqrt(len(kid))
    assert np.mean(plain) > 0.05
    assert abs(np.mean(extrapolated)) < 0.3 * np.mean(plain)


def test_mfcc_delta_features_carry_time_direction():
    excerpt = drum_and_bass(4.0, seed=4)
    forward = metrics.mfcc_delta_features(excerpt, SR)
    assert forward.shape[1] == 2 * 19
    static = metrics.mfcc_segment_features(excerpt, SR)
    frames = static.shape[0] // 32
    np.testing.assert_allclose(forward[: frames - 2, :19], static[1 : frames - 1], rtol=1e-5, atol=1e-3)
    np.testing.assert_allclose(forward[0, 19:], static[2] - static[0], rtol=1e-5, atol=1e-3)
    assert metrics.mfcc_delta_features(excerpt[:600], SR) is None  # too short for three frames


def test_known_failures_score_as_against_the_reference_with_its_side_computed_once(monkeypatch):
    reference, excerpt = drum_and_bass(8.0, seed=3), drum_and_bass(4.0, seed=4)
    plain = metrics.rank_known_failures(excerpt, reference, SR, FRAME_LENGTH, FRAME_HOP)
    calls = []
    for name in ("mean_magnitude_spectra", "mfcc_segment_features", "mfcc_delta_features"):
        original = getattr(metrics, name)
        monkeypatch.setattr(metrics, name, lambda audio, *a, _name=name, _original=original, **k:
                            calls.append((_name, audio)) or _original(audio, *a, **k))
    profile = metrics.ReferenceProfile(reference, SR)
    assert metrics.rank_known_failures(excerpt, profile, SR, FRAME_LENGTH, FRAME_HOP) == plain  # bit for bit
    signals = 1 + len(metrics.KNOWN_FAILURES)
    for name in ("mean_magnitude_spectra", "mfcc_segment_features", "mfcc_delta_features"):
        assert sum(called == name and audio is profile.audio for called, audio in calls) == 1, name  # the reference once
        assert sum(called == name for called, _ in calls) == 1 + signals, name  # and each signal once
