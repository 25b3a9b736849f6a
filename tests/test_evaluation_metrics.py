"""Tests of advaudio.evaluation.metrics on signals whose answer is known."""
import json
import os
import tempfile

import numpy as np
import pytest
import soundfile as sf
from hypothesis import given, settings
from hypothesis import strategies as st

from advaudio.config import Experiment, save_json
from advaudio.evaluation import metrics

SR = 16000
EULER_GAMMA = 0.5772156649


def sine(freq, seconds=2.0, amplitude=0.5, sample_rate=SR, phase=0.0):
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    return amplitude * np.sin(2 * np.pi * freq * t + phase)


def noise(seconds=2.0, seed=0, scale=0.1):
    return scale * np.random.default_rng(seed).standard_normal(int(seconds * SR))


def bursts(rate, seconds=2.0, start=0.125, sample_rate=SR):
    """Decaying 660 Hz notes every 1/rate s from `start` (onsets at known times)."""
    y = np.zeros(int(seconds * sample_rate))
    for onset in np.arange(start, seconds, 1 / rate):
        s = int(onset * sample_rate)
        t = np.arange(y.size - s) / sample_rate
        y[s:] += 0.5 * np.sin(2 * np.pi * 660 * t) * np.exp(-20 * t)
    return y


SILENCE = np.zeros(2 * SR)


# ---------------------------------------------------------------- spectral distances


@pytest.mark.parametrize("aligned", [False, True])
def test_mr_stft_of_a_copy_is_zero(aligned):
    x = noise() + sine(300)
    assert metrics.mr_stft_distance(x, x, aligned=aligned) == {"mr_stft": 0.0, "mr_stft_sc": 0.0, "mr_stft_logmag": 0.0}


def test_mr_stft_silence_against_a_tone_has_spectral_convergence_one():
    d = metrics.mr_stft_distance(SILENCE, sine(440))
    assert d["mr_stft_sc"] == pytest.approx(1.0)
    assert d["mr_stft_logmag"] > 1.0


def test_mr_stft_ranks_independent_noise_close_and_a_tone_far():
    same_process = metrics.mr_stft_distance(noise(seed=1), noise(seed=2))
    tone = metrics.mr_stft_distance(sine(440), noise(seed=2))
    assert same_process["mr_stft"] < 0.3
    assert tone["mr_stft"] > 10 * same_process["mr_stft"]


def test_mr_stft_uses_parallel_wavegan_resolutions():
    assert metrics.PWG_RESOLUTIONS == ((1024, 120, 600), (2048, 240, 1200), (512, 50, 240))
    x, y = noise(seed=1), noise(seed=2)
    per_resolution = [metrics.mr_stft_distance(x, y, resolutions=[r])["mr_stft_sc"] for r in metrics.PWG_RESOLUTIONS]
    assert metrics.mr_stft_distance(x, y)["mr_stft_sc"] == pytest.approx(np.mean(per_resolution))


def test_log_spectral_distance_is_zero_for_a_copy_and_the_gain_in_db():
    x = noise() + sine(500)
    assert metrics.log_spectral_distance(x, x) == 0.0
    assert metrics.log_spectral_distance(2.0 * x, x) == pytest.approx(20 * np.log10(2.0), abs=1e-6)
    assert metrics.log_spectral_distance(0.1 * x, x) == pytest.approx(20.0, abs=1e-6)


# ---------------------------------------------------------------- noisiness and loudness


def test_spectral_flatness_of_white_noise_tone_and_silence():
    # Periodogram bins of white noise are exponential: E[log] = log(mean) - Euler's gamma.
    assert metrics.spectral_flatness(noise(seconds=4)) == pytest.approx(np.exp(-EULER_GAMMA), abs=0.02)
    assert metrics.spectral_flatness(sine(440)) < 1e-6
    assert metrics.spectral_flatness(SILENCE) is None


def test_rms_db_of_full_scale_sine_and_silence():
    assert metrics.rms_db(sine(1000, amplitude=1.0)) == pytest.approx(-3.0103, abs=1e-3)
    assert metrics.rms_db(sine(1000, amplitude=0.5)) == pytest.approx(-9.0309, abs=1e-3)
    assert metrics.rms_db(SILENCE) == -120.0


def test_loudness_curve_follows_a_step_down():
    x = np.concatenate([sine(440, 1.0, amplitude=1.0), sine(440, 1.0, amplitude=0.1)])
    times, loudness = metrics.loudness_curve(x, SR, window_seconds=0.1)
    assert len(times) == 20 and times[10] == pytest.approx(1.0)
    np.testing.assert_allclose(loudness[:10], -3.0103, atol=0.01)
    np.testing.assert_allclose(loudness[10:], -23.0103, atol=0.01)


def test_loudness_drop_of_a_fade_and_of_steady_output():
    fade = np.concatenate([sine(440, 1.0, amplitude=1.0), sine(440, 1.0, amplitude=0.1)])
    assert metrics.loudness_drop(fade) == pytest.approx(20.0, abs=0.01)
    assert metrics.loudness_drop(sine(440)) == pytest.approx(0.0, abs=0.01)
    assert metrics.loudness_drop(fade[::-1]) == pytest.approx(-20.0, abs=0.01)


def test_silence_onset():
    data_db = metrics.rms_db(sine(440))
    collapsed = np.concatenate([sine(440, 1.0), np.zeros(SR)])
    assert metrics.silence_onset(collapsed, SR, data_db) == pytest.approx(1.0)
    assert metrics.silence_onset(sine(440), SR, data_db) is None
    assert metrics.silence_onset(SILENCE, SR, data_db) == 0.0
    gap = np.concatenate([sine(440, 0.7), np.zeros(SR // 2), sine(440, 0.8)])
    assert metrics.silence_onset(gap, SR, data_db) is None  # recovers: not a collapse
    fade = np.concatenate([sine(440, 1.8), np.zeros(SR // 5)])
    assert metrics.silence_onset(fade, SR, data_db) is None  # 0.2 s tail < min_silence_seconds
    quiet = np.concatenate([sine(440, 1.0), sine(440, 1.0, amplitude=0.001)])  # -60 dB below the data
    assert metrics.silence_onset(quiet, SR, data_db) == pytest.approx(1.0)


# ---------------------------------------------------------------- copying


@settings(max_examples=15, deadline=None)
@given(lag=st.integers(min_value=0, max_value=2 * SR - 4000), gain=st.floats(min_value=-3.0, max_value=3.0).filter(lambda g: abs(g) > 0.01))
def test_a_copied_excerpt_is_found_at_any_lag(lag, gain):
    source = noise(seed=3)
    query = np.concatenate([noise(0.25, seed=4), gain * source[lag : lag + 4000], noise(0.25, seed=5)])
    assert metrics.max_normalized_xcorr(query, source, chunk_length=4000) == pytest.approx(1.0, abs=0.05)


@settings(max_examples=10, deadline=None)
@given(offset=st.integers(min_value=0, max_value=SR - 800))
def test_a_short_seed_copied_anywhere_is_found(offset):
    seed = noise(800 / SR, seed=12)  # shorter than the requested chunk
    query = noise(1.0, seed=13)
    query[offset : offset + 800] = seed
    assert metrics.max_normalized_xcorr(query, seed, chunk_length=8000) == pytest.approx(1.0)


def test_unrelated_noise_is_not_a_copy_and_silence_is_undefined():
    # Expected maximum of |ncc| over L lags for N-sample chunks: about sqrt(2 ln L / N).
    value = metrics.max_normalized_xcorr(noise(seed=6), noise(seed=7), chunk_length=8000)
    assert value < 3 * np.sqrt(2 * np.log(2 * SR) / 8000)
    assert metrics.max_normalized_xcorr(SILENCE, noise(), chunk_length=8000) is None


def test_a_copy_of_the_whole_signal_scores_one():
    x = noise(seed=8) + sine(220)
    assert metrics.max_normalized_xcorr(x, x, chunk_length=8000) == pytest.approx(1.0)


# ---------------------------------------------------------------- speed and rhythm


def test_dominant_frequency_of_tones_and_sped_up_audio():
    assert metrics.dominant_frequency(sine(440), SR) == pytest.approx(440.0, abs=0.5)
    assert metrics.dominant_frequency(sine(1234.5), SR) == pytest.approx(1234.5, abs=0.5)
    harmonic = sine(220, 4.0) + 0.5 * sine(440, 4.0) + 0.25 * sine(660, 4.0)
    sped_up = harmonic[::2]  # played twice as fast at the same rate
    ratio = metrics.dominant_frequency(sped_up, SR) / metrics.dominant_frequency(harmonic, SR)
    assert ratio == pytest.approx(2.0, abs=0.01)
    assert metrics.dominant_frequency(SILENCE, SR) is None


def test_onset_rate_counts_known_onsets():
    assert metrics.onset_rate(bursts(2), SR) == pytest.approx(2.0)  # 0.125, 0.625, 1.125, 1.625 s
    assert metrics.onset_rate(bursts(4), SR) == pytest.approx(4.0)
    assert metrics.onset_rate(SILENCE, SR) == 0.0
    assert metrics.onset_rate(sine(440), SR) <= 0.5


def test_onset_rate_counts_attacks_not_the_fluctuations_of_attack_free_audio():
    """Noise has no attacks: its onset-strength envelope only fluctuates. Rescaled to its own maximum (librosa's
    default) those fluctuations become onsets; on the absolute scale they are not, while attacks under the same
    noise and attacks 40 dB quieter still count."""
    hiss = noise(8.0, seed=3)
    relative = metrics._onsets(hiss, SR, 256, 0.04, absolute=False)
    assert len(relative) / 8.0 > 0.5  # the relative detector finds "onsets" in noise
    assert metrics.onset_rate(hiss, SR) <= 0.25
    assert metrics.onset_rate(bursts(2, seconds=8.0) + 0.3 * hiss, SR) == pytest.approx(2.0, abs=0.25)
    assert metrics.onset_rate(0.01 * bursts(4), SR) == pytest.approx(4.0)  # gain does not matter


def test_onset_rate_ratio_needs_data_with_rhythm():
    assert metrics.onset_rate_ratio(3.0, 1.5) == pytest.approx(2.0)
    assert metrics.onset_rate_ratio(0.0, 1.5) == 0.0  # no onsets where the data has them
    assert metrics.onset_rate_ratio(3.0, 0.0) is None
    assert metrics.onset_rate_ratio(3.0, metrics.ONSET_MIN_DATA_RATE / 2) is None  # a drone has no rhythm
    assert metrics.onset_rate_ratio(None, 1.5) is None
    row = metrics.evaluate_audio(bursts(2, seconds=4.0), sine(660, 4.0), SR, frame_length=400, frame_hop=400)
    assert row["onset_rate_data"] < metrics.ONSET_MIN_DATA_RATE and row["onset_rate_ratio"] is None


def test_a_reference_profile_scores_exactly_as_the_reference_and_computes_its_side_once(monkeypatch):
    reference = bursts(2, seconds=4.0) + 0.2 * sine(330, 4.0)
    samples = [bursts(2, seconds=3.0, start=0.3), sine(660, 3.0) + 0.01 * noise(3.0, seed=4)]
    grids = [(400, 400), (400, 200)]
    plain = [metrics.evaluate_audio(x, reference, SR, length, hop) for x in samples for length, hop in grids]
    calls = []
    flatness = metrics.spectral_flatness
    monkeypatch.setattr(metrics, "spectral_flatness", lambda audio, *a, **k: calls.append(audio) or flatness(audio, *a, **k))
    mfcc_calls = []
    segment_features = metrics.mfcc_segment_features
    monkeypatch.setattr(metrics, "mfcc_segment_features",
                        lambda audio, *a, **k: mfcc_calls.append(audio) or segment_features(audio, *a, **k))
    profile = metrics.ReferenceProfile(reference, SR)
    shared = [metrics.evaluate_audio(x, profile, SR, length, hop) for x in samples for length, hop in grids]
    assert shared == plain  # every value, bit for bit
    assert sum(audio is profile.audio for audio in calls) == 1  # the reference's flatness once, for four scorings
    assert sum(audio is profile.audio for audio in mfcc_calls) == 1  # its MFCC statistics (Frechet) once
    assert len(mfcc_calls) == 1 + len(samples) * len(grids)  # and each sample's, once per scoring


@pytest.mark.slow
def test_speed_and_rhythm_ratios_of_sped_up_audio():
    data = bursts(2, seconds=4.0)
    sped_up = data[::2]  # twice too fast: onsets every 0.25 s
    row = metrics.evaluate_audio(sped_up, data, SR, frame_length=400, frame_hop=400)
    assert row["onset_rate_ratio"] == pytest.approx(2.0, abs=0.15)
    assert row["pitch_ratio"] == pytest.approx(2.0, abs=0.01)
    right = metrics.evaluate_audio(bursts(2, seconds=4.0, start=0.3), data, SR, frame_length=400, frame_hop=400)
    assert right["onset_rate_ratio"] == pytest.approx(1.0, abs=0.15)
    assert right["pitch_ratio"] == pytest.approx(1.0, abs=0.01)
    flat = metrics.evaluate_audio(sine(660, 4.0), data, SR, frame_length=400, frame_hop=400)
    assert flat["onset_rate_ratio"] <= 0.15  # a steady drone has no rhythm


# ---------------------------------------------------------------- Frechet distance


def test_frechet_distance_of_known_gaussians():
    assert metrics.frechet_distance(np.zeros(3), np.eye(3), np.zeros(3), np.eye(3)) == pytest.approx(0.0, abs=1e-9)
    # 1-D: (mu1 - mu2)^2 + (s1 - s2)^2 = 1 + (1 - 2)^2 = 2
    assert metrics.frechet_distance(np.array([0.0]), np.array([[1.0]]), np.array([1.0]), np.array([[4.0]])) == pytest.approx(2.0)
    # diagonal: sum of per-dimension terms
    d = metrics.frechet_distance(np.zeros(2), np.diag([1.0, 9.0]), np.array([3.0, 0.0]), np.diag([4.0, 1.0]))
    assert d == pytest.approx(9 + 1 + 4, abs=1e-9)


@pytest.mark.slow
def test_frechet_mfcc_ignores_gain_and_separates_noise_from_music():
    music = bursts(2) + 0.3 * sine(220)
    other_music = bursts(2, start=0.3) + 0.3 * sine(220, phase=1.0)
    base = metrics.frechet_mfcc_distance(other_music, music, SR)
    assert metrics.frechet_mfcc_distance(music, music, SR) == pytest.approx(0.0, abs=1e-6)
    for gain in (0.05, 0.3, 3.0):
        assert metrics.frechet_mfcc_distance(gain * other_music, music, SR) == pytest.approx(base, rel=1e-3)
    assert metrics.frechet_mfcc_distance(noise(), music, SR) > 10 * base


def test_mfcc_segments_are_a_fixed_number_of_frames():
    short = metrics.mfcc_segment_features(noise(1.0), SR)
    long = metrics.mfcc_segment_features(noise(4.0), SR)
    assert short.shape == long.shape and short.shape[1] == 19


# ---------------------------------------------------------------- frame artefacts


def test_seam_ratio_of_a_sawtooth_with_the_frame_period_is_exact():
    hop = 100
    saw = np.tile(np.arange(hop) / hop, 40)  # inside steps 1/hop, boundary step (hop - 1)/hop
    assert metrics.seam_ratio(saw, hop) == pytest.approx(hop - 1)


def test_seam_ratio_clicks_versus_a_smooth_tone():
    hop = 400
    rng = np.random.default_rng(0)
    t = np.arange(hop) / SR
    clicky = np.concatenate([0.5 * np.sin(2 * np.pi * 443.3 * t + rng.uniform(0, 2 * np.pi)) for _ in range(80)])
    assert metrics.seam_ratio(clicky, hop) > 5.0
    assert metrics.seam_ratio(sine(443.3), hop) == pytest.approx(1.0, abs=0.05)
    assert metrics.seam_ratio(SILENCE, hop) is None


@settings(max_examples=10, deadline=None)
@given(gain=st.floats(min_value=1e-3, max_value=1e3), hop=st.integers(min_value=2, max_value=800))
def test_seam_ratio_ignores_gain(gain, hop):
    x = noise(0.5, seed=9)
    assert metrics.seam_ratio(gain * x, hop) == pytest.approx(metrics.seam_ratio(x, hop), rel=1e-9)


def test_frame_repetition_of_a_frozen_loop_and_of_noise():
    frame = noise(400 / SR, seed=10)
    assert metrics.frame_repetition(np.tile(frame, 30), 400, 400) == pytest.approx(1.0)
    assert abs(metrics.frame_repetition(noise(seed=11), 400, 400)) < 0.05
    # overlapping frames repeat when the output has the hop as its period
    assert metrics.frame_repetition(np.tile(frame[:200], 40), 400, 200) == pytest.approx(1.0)
    assert metrics.frame_repetition(SILENCE, 400, 400) is None


def test_hop_pulse_reads_a_tremolo_at_the_hop_and_not_steady_noise():
    hop = 2000
    steady = noise(30.0, seed=12)
    assert metrics.hop_pulse(steady, hop) < 0.3
    gain = np.ones(hop)
    gain[hop // 2 :] = 0.5  # the second half of every hop 6 dB quieter
    pulsed = steady * np.tile(gain, steady.size // hop)
    assert metrics.hop_pulse(pulsed, hop) == pytest.approx(20 * np.log10(2), abs=0.3)
    # where the first hop starts only rotates the folded profile
    assert metrics.hop_pulse(pulsed[700:], hop) == pytest.approx(metrics.hop_pulse(pulsed, hop), abs=0.3)
    # a tremolo of the same depth at a period unrelated to the hop averages out
    other = steady * (0.75 + 0.25 * np.sign(np.sin(2 * np.pi * np.arange(steady.size) / 2741.3)))
    assert metrics.hop_pulse(other, hop) < 0.5
    assert metrics.hop_pulse(steady[: hop + 10], hop) is None
    assert metrics.hop_pulse(SILENCE, 400) is None


def test_hop_periodicity_reads_a_waveform_repeated_every_hop_and_tones_on_the_hop_grid():
    hop, seconds = 2000, 12.0  # 96 hops: 12 windows of 8
    t = np.arange(int(seconds * SR)) / SR

    def chord(freqs, seed):
        phases = np.random.default_rng(seed).uniform(0, 2 * np.pi, len(freqs))
        return sum(np.sin(2 * np.pi * f * t + p) for f, p in zip(freqs, phases)) + 0.01 * noise(seconds, seed=seed)

    frozen = np.tile(noise(hop / SR, seed=20), int(seconds * SR) // hop)
    assert metrics.hop_periodicity(frozen, hop) == pytest.approx(1.0)
    assert 0.08 < metrics.hop_periodicity(noise(seconds, seed=21), hop) < 0.17  # ~1/8 for noise
    # Partials on multiples of SR / hop = 8 Hz repeat every hop; the same chord 3 Hz off the grid does not.
    assert metrics.hop_periodicity(chord((120.0, 184.0, 248.0), seed=22), hop) > 0.95
    assert metrics.hop_periodicity(chord((123.5, 185.0, 246.9), seed=22), hop) < 0.2
    # scale-free, and the hop matters: the on-grid chord is not periodic in hops of 2741 samples
    assert metrics.hop_periodicity(0.01 * frozen, hop) == pytest.approx(1.0)
    assert metrics.hop_periodicity(chord((120.0, 184.0, 248.0), seed=22), 2741) < 0.3
    windows = metrics.hop_periodicity_windows(frozen, hop)
    assert windows.shape == (12,)
    assert metrics.hop_periodicity(frozen[: 8 * hop - 1], hop) is None  # shorter than one window
    assert metrics.hop_periodicity(np.zeros(10 * hop), hop) is None


def decaying_notes(starts, seconds=20.0, sample_rate=16000, seed=0):
    """Plucked notes (sine with a 60 ms decay) at sample positions `starts`, over faint noise."""
    rng = np.random.default_rng(seed)
    audio = 0.01 * rng.standard_normal(int(seconds * sample_rate))
    t = np.arange(int(0.2 * sample_rate)) / sample_rate
    for k, start in enumerate(starts):
        note = np.sin(2 * np.pi * (220.0 * 2 ** ((k * 5 % 12) / 12)) * t) * np.exp(-t / 0.06)
        end = min(start + note.size, audio.size)
        audio[start:end] += note[: end - start]
    return audio


def test_onset_locking_tells_onsets_at_one_place_of_every_hop_from_onsets_the_music_places():
    hop, sr = 2000, 16000
    rng = np.random.default_rng(21)
    # one attack at the same place (sample 700) of every other hop, as a frame with a loud place makes them
    locked = decaying_notes(np.arange(700, 20 * sr - hop, 2 * hop), seed=1)
    # the same number of attacks at places unrelated to the hop
    free_starts = np.sort(rng.choice(20 * sr - sr, size=len(np.arange(700, 20 * sr - hop, 2 * hop)), replace=False))
    free = decaying_notes(free_starts, seed=2)
    assert metrics.onset_locking(locked, sr, hop) > 0.9
    assert metrics.onset_locking(free, sr, hop) < 0.3
    # the same locked attacks on another grid (hop 2741) are not locked to it
    assert metrics.onset_locking(locked, sr, 2741) < 0.3
    assert metrics.onset_locking(SILENCE, sr, hop) is None
    assert metrics.onset_locking(decaying_notes([1000, 9000], seconds=2.0), sr, hop) is None  # too few onsets


def test_beat_period_finds_the_beat_to_within_half_an_onset_frame_on_and_off_the_hop_grid():
    sr = 16000
    # 120 BPM (4 hops of 2000), 100 BPM (4.8 hops) and 160 BPM (3 hops): librosa's tempo alone reads these
    # quantised to its onset frames; the refined period must land within half a detector frame of the truth.
    for period in (8000, 9600, 6000):
        found, strength = metrics.beat_period(decaying_notes(np.arange(500, 20 * sr - 3000, period), seed=3), sr)
        assert abs(found - period) < metrics.LOCKING_HOP_LENGTH / 2, (period, found)
        assert strength > 0.7
    assert metrics.beat_period(SILENCE, sr) is None
    assert metrics.beat_period(decaying_notes([1000, 9000], seconds=2.0), sr) is None  # too few onsets


def test_hop_pulse_hears_overlap_added_uncorrelated_frames_and_the_equal_power_window_removes_it():
    """Frames of independent noise (a generator's overlapping halves drawn independently), stitched."""
    from advaudio.stitching import stitch

    frame_length, hop = 4000, 2000
    frames = np.random.default_rng(13).standard_normal((1, 240, frame_length)).astype(np.float32)
    hann = stitch(frames, "overlap_add", hop, window="hann").numpy()[0, frame_length:-frame_length]
    sine_window = stitch(frames, "overlap_add", hop, window="sine").numpy()[0, frame_length:-frame_length]
    assert metrics.hop_pulse(hann, hop) == pytest.approx(10 * np.log10(2), abs=0.4)  # 3 dB halfway between centres
    assert metrics.hop_pulse(sine_window, hop) < 0.4
    # frames that share an envelope pulse whatever the window
    envelope = np.interp(np.arange(frame_length), [0, 1000, 2000, 3000, 3999], [1, 1, 0.3, 1, 1]).astype(np.float32)
    shaped = stitch(frames * envelope, "overlap_add", hop, window="sine").numpy()[0, frame_length:-frame_length]
    assert metrics.hop_pulse(shaped, hop) > 3.0


# ---------------------------------------------------------------- evaluate_audio / evaluate_run


def test_the_report_row_and_the_headline_distances_agree_on_every_distribution_metric(monkeypatch):
    reference = bursts(2, seconds=4.0) + 0.2 * sine(330, 4.0)
    generated = bursts(3, seconds=3.0, start=0.2) + 0.05 * noise(3.0, seed=2)
    computed = []
    distances = metrics.reference_distances
    monkeypatch.setattr(metrics, "reference_distances", lambda *a, **k: computed.append(1) or distances(*a, **k))
    profile = metrics.ReferenceProfile(reference, SR)
    row = metrics.evaluate_audio(generated, profile, SR, 400, 400)
    headline = metrics.distribution_scores(generated, profile, SR)
    assert len(computed) == 2  # both go through the one helper
    assert set(headline) == set(metrics.DISTRIBUTION_METRICS)
    assert all(row[key] == headline[key] and row[key] is not None for key in metrics.DISTRIBUTION_METRICS)
    assert metrics.MR_STFT_KEYS == tuple(metrics.mr_stft_distance(generated, reference))
    assert metrics.MFCC_DISTRIBUTION_KEYS == tuple(metrics.mfcc_distribution_distances(generated, reference, SR))
    assert row["mr_stft"] == pytest.approx(row["mr_stft_sc"] + row["mr_stft_logmag"])


@pytest.mark.slow
def test_evaluate_audio_scores_a_copy_as_perfect():
    data = bursts(2) + 0.3 * sine(220) + 0.01 * noise()
    row = metrics.evaluate_audio(data, data, SR, frame_length=400, frame_hop=400, seed=data[:8000], train_reference=data)
    assert tuple(row) == metrics.METRIC_KEYS
    assert row["mr_stft"] == 0.0 and row["lsd_db"] == 0.0 and row["frechet_mfcc"] == pytest.approx(0.0, abs=1e-6)
    for key in ("flatness_ratio", "pitch_ratio", "onset_rate_ratio", "seed_copy", "train_copy"):
        assert row[key] == pytest.approx(1.0), key
    assert row["silence_onset_s"] is None and row["duration_s"] == 2.0


@pytest.mark.slow
def test_evaluate_audio_flags_noise_and_collapse():
    data = bursts(2) + 0.3 * sine(220)
    noisy = metrics.evaluate_audio(noise(), data, SR, 400, 400)
    assert noisy["flatness_ratio"] > 100 and noisy["seed_copy"] is None and noisy["train_copy"] is None
    collapsed = metrics.evaluate_audio(np.concatenate([data[:SR], np.zeros(SR)]), data, SR, 400, 400)
    assert collapsed["silence_onset_s"] == pytest.approx(1.0)


def write_wav(path, audio):
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), np.asarray(audio, dtype=np.float32), SR, subtype="FLOAT")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A minimal run folder: config.json, reference/valid.wav only, two samples, one seed."""
    run = tmp_path_factory.mktemp("runs") / "tiny" / "20260101-000000"
    run.mkdir(parents=True)
    cfg = Experiment()
    cfg.data.frame_length, cfg.data.frame_hop = 400, 200
    save_json(cfg, run / "config.json")
    data = bursts(2) + 0.3 * sine(220)
    write_wav(run / "reference" / "valid.wav", data)
    write_wav(run / "samples" / "sample_000.wav", data)
    write_wav(run / "samples" / "seeds" / "sample_000.wav", data[:4000])
    (run / "samples" / "sample_000.json").write_text(json.dumps({"frame_length": 400, "frame_hop": 400, "checkpoint": "best", "sample_rate": SR}))
    write_wav(run / "samples" / "sample_001.wav", noise())
    return run


@pytest.mark.slow
def test_evaluate_run_scores_each_sample_with_its_seed_and_reference(run_dir):
    rows = metrics.evaluate_run(run_dir)
    assert [r["sample"] for r in rows] == ["sample_000.wav", "sample_001.wav"]
    assert rows[0]["checkpoint"] == "best" and rows[1]["checkpoint"] is None
    assert rows[0]["mr_stft"] == 0.0  # valid.wav used as the fallback reference
    assert rows[0]["seed_copy"] == pytest.approx(1.0) and rows[1]["seed_copy"] is None
    assert rows[0]["train_copy"] is None  # no reference/train.wav
    assert metrics.run_frames(run_dir) == (400, 200)  # config.json when no sidecar
    assert metrics.run_frames(run_dir, {"frame_length": 400, "frame_hop": 400}) == (400, 400)


def test_evaluate_run_errors_name_the_path_and_the_fix(tmp_path):
    with pytest.raises(metrics.RunFolderError, match="config.json"):
        metrics.evaluate_run(tmp_path)
    save_json(Experiment(), tmp_path / "config.json")
    with pytest.raises(metrics.RunFolderError, match=r"python -m advaudio.generate .*" + tmp_path.name):
        metrics.evaluate_run(tmp_path)
    write_wav(tmp_path / "samples" / "sample_000.wav", noise())
    with pytest.raises(metrics.RunFolderError, match="test.wav nor valid.wav"):
        metrics.evaluate_run(tmp_path)


def test_each_test_worker_caches_librosa_s_numba_code_in_its_own_folder():
    """Under pytest-xdist (tests/conftest.py) numba writes its cache to the worker's folder, not next to librosa
    where workers compiling at once corrupt it; onset detection (numba-compiled peak picking) then works."""
    import numba

    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker is not None:
        assert numba.config.CACHE_DIR == os.path.join(tempfile.gettempdir(), f"advaudio-tests-numba-{worker}")
    tone = np.sin(2 * np.pi * 440 * np.arange(16000) / 16000).astype(np.float32)
    clicks = np.zeros(16000, np.float32)
    clicks[::4000] = 1.0
    assert metrics.onset_rate(tone + clicks, 16000) > metrics.onset_rate(tone, 16000)
