"""Normalisation statistics (advaudio/data/stats.py)."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra.numpy import arrays

from advaudio.data import DataError, Stats


def test_standard_hand_computed():
    stats = Stats.from_signal(np.array([1.0, 3.0, 1.0, 3.0], np.float32))
    assert stats.kind == "standard" and stats.mean == 2.0 and stats.std == 1.0
    np.testing.assert_allclose(stats.normalize(np.array([2.0, 4.0], np.float32)), [0.0, 2.0])
    assert stats.normalize(np.zeros(2, np.float32)).dtype == np.float32


def test_minmax_maps_train_range_to_unit_interval():
    stats = Stats.from_signal(np.array([-0.2, 0.6, 0.2], np.float32), "minmax")
    np.testing.assert_allclose(stats.normalize(np.array([-0.2, 0.6, 0.2], np.float32)), [-1.0, 1.0, 0.0], atol=1e-6)


@settings(max_examples=100, deadline=None)
@given(
    arrays(np.float32, st.integers(2, 200), elements=st.floats(-1, 1, width=32)),
    st.sampled_from(["standard", "minmax"]),
)
@pytest.mark.slow
def test_denormalize_inverts_normalize(x, kind):
    if np.ptp(x) < 1e-3:
        with pytest.raises(DataError):
            Stats.from_signal(np.zeros_like(x), kind)
        return
    stats = Stats.from_signal(x, kind)
    np.testing.assert_allclose(stats.denormalize(stats.normalize(x)), x, atol=1e-5)


def test_save_load_round_trip(tmp_path):
    for stats in (Stats("standard", mean=0.1, std=0.5), Stats("minmax", minimum=-0.3, maximum=0.7)):
        stats.save(tmp_path / "stats.json")
        assert Stats.load(tmp_path / "stats.json") == stats
        assert Stats.from_dict(stats.to_dict()) == stats


def test_silent_or_bad_signal_is_a_clear_error(tmp_path):
    with pytest.raises(DataError, match="silent"):
        Stats.from_signal(np.zeros(100, np.float32))
    with pytest.raises(DataError, match="silent"):
        Stats.from_signal(np.full(100, 0.3, np.float32), "minmax")
    with pytest.raises(DataError, match="NaN"):
        Stats.from_signal(np.array([0.0, np.nan, 1.0], np.float32))
    with pytest.raises(DataError, match="normalization"):
        Stats.from_signal(np.arange(3.0), "robust")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(DataError, match="bad.json"):
        Stats.load(tmp_path / "bad.json")
