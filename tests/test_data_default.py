"""The embedded default drone: deterministic, cached, structured (advaudio/data/default.py)."""
import numpy as np
import pytest

from advaudio.data import DataError
from advaudio.data import default as drone

SR = 8000


@pytest.fixture(scope="module")
def track():
    """About 2.4 minutes at 8 kHz: longer than one full cycle of the progression for every seed."""
    return drone.synthesize_drone(2.4, SR, seed=0)


def test_deterministic_and_seeded():
    a = drone.synthesize_drone(0.05, 16000, seed=1)
    assert a.dtype == np.float32 and a.shape == (int(0.05 * 60 * 16000),)
    np.testing.assert_array_equal(a, drone.synthesize_drone(0.05, 16000, seed=1))
    assert not np.allclose(a, drone.synthesize_drone(0.05, 16000, seed=2))
    assert np.all(np.isfinite(a)) and 0.05 < np.abs(a).max() < 1.0
    with pytest.raises(DataError, match="default_minutes"):
        drone.synthesize_drone(0.0)


def test_cache_is_keyed_and_reused(tmp_path, monkeypatch):
    first = drone.load_drone(0.05, 16000, 3, str(tmp_path))
    path = drone.cache_path(0.05, 16000, 3, str(tmp_path))
    assert path.is_file() and len(list(tmp_path.iterdir())) == 1
    keys = {drone.cache_path(m, sr, s, str(tmp_path)) for m, sr, s in [(0.05, 16000, 3), (0.06, 16000, 3), (0.05, 8000, 3), (0.05, 16000, 4)]}
    assert len(keys) == 4

    def no_synthesis(*args, **kwargs):
        raise AssertionError("the cached track should have been read")

    monkeypatch.setattr(drone, "synthesize_drone", no_synthesis)
    np.testing.assert_array_equal(drone.load_drone(0.05, 16000, 3, str(tmp_path)), first)
    monkeypatch.undo()
    path.write_bytes(b"damaged")
    np.testing.assert_array_equal(drone.load_drone(0.05, 16000, 3, str(tmp_path)), first)


def spectrum(x, start_s, seconds=1.0):
    piece = x[int(start_s * SR) : int((start_s + seconds) * SR)]
    mag = np.abs(np.fft.rfft(piece * np.hanning(len(piece))))
    return mag / np.linalg.norm(mag)


@pytest.mark.slow
def test_progression_repeats_so_later_parts_hold_the_training_material(track):
    score = drone._Score(0, SR)
    chord, cycle = score.chord_seconds, score.chord_seconds * len(drone.PROGRESSION)
    assert 20.0 <= chord <= 40.0  # chord changes every few tens of seconds
    t = 0.3 * chord  # in the middle of the first chord, away from glides
    same = spectrum(track, t) @ spectrum(track, t + cycle)
    next_chord = spectrum(track, t) @ spectrum(track, t + chord)
    assert same > 0.8, same  # one cycle later: the same chord again
    assert next_chord < 0.5, next_chord  # one chord later: a different chord


@pytest.mark.slow
def test_loudness_pulses_every_five_to_eight_seconds(track):
    hop = SR // 10
    rms = np.sqrt(np.mean(track[: len(track) // hop * hop].reshape(-1, hop) ** 2, axis=1))
    rms = rms - rms.mean()
    power = np.abs(np.fft.rfft(rms * np.hanning(len(rms)))) ** 2
    freqs = np.fft.rfftfreq(len(rms), 1 / 10)
    band = freqs > 1 / 60  # ignore the slow chord/voice drifts
    period = 1 / freqs[band][np.argmax(power[band])]
    assert 5.0 <= period <= 8.0, period
    assert rms.max() - rms.min() > 0.3 * np.sqrt(np.mean(track**2))


def test_noise_floor_is_faint_but_present(track):
    # Above the highest partial (6 x 392 Hz) only the white floor is left: measure it there.
    piece = track[: 10 * SR].astype(np.float64)
    spec = np.fft.rfft(piece)
    freqs = np.fft.rfftfreq(len(piece), 1 / SR)
    high = freqs > 3000
    floor_rms = np.sqrt(2 * np.sum(np.abs(spec[high]) ** 2) / len(piece) ** 2 * (SR / 2) / (SR / 2 - 3000))
    assert 0.002 < floor_rms < 0.008, floor_rms  # white noise of std ~0.004 across the band
    assert 20 * np.log10(np.std(piece) / floor_rms) > 20.0  # faint: at least 20 dB below the drone


def test_heldout_part_is_predictable_from_training_part(track):
    """A linear predictor fit on the training part predicts the test part: learnable, shared material."""
    order = 16
    x = track.astype(np.float64)

    def design(part):
        rows = np.lib.stride_tricks.sliding_window_view(part, order + 1)
        return rows[:, :-1], rows[:, -1]

    x_train, y_train = design(x[: int(0.8 * len(x))][:60000])
    coef, *_ = np.linalg.lstsq(x_train, y_train, rcond=None)
    x_test, y_test = design(x[int(0.9 * len(x)) :])
    gain_db = 10 * np.log10(np.mean(y_test**2) / np.mean((y_test - x_test @ coef) ** 2))
    assert gain_db > 10.0, gain_db  # white noise of the same level would give ~0 dB
