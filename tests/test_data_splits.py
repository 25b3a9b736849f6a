"""Train/valid/test splits by time and by file (advaudio/data/splits.py)."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from advaudio.data import DataError
from advaudio.data.splits import assign_files, check_fractions, split_by_file, split_by_time, time_boundaries

fractions = st.tuples(st.floats(0.05, 1.0), st.floats(0.05, 1.0), st.floats(0.05, 1.0)).map(
    lambda t: tuple(v / sum(t) for v in t)
)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 5000), fractions)
def test_time_split_partitions_the_signal_in_order(samples, split):
    signal = np.arange(samples, dtype=np.float32)
    parts = split_by_time("x.wav", signal, split)
    joined = np.concatenate([parts[k].signal for k in ("train", "valid", "test")])
    np.testing.assert_array_equal(joined, signal)  # contiguous, in time order, nothing lost or repeated
    b1, b2 = time_boundaries(samples, split)
    assert len(parts["train"].signal) == b1 == round(samples * split[0])
    assert abs(len(parts["valid"].signal) - samples * split[1]) <= 1
    for part in parts.values():
        assert part.segments == [(0, len(part.signal))] and part.sources == ["x.wav"]


def test_time_split_hand_computed():
    parts = split_by_time("a", np.arange(100, dtype=np.float32), (0.8, 0.1, 0.1))
    assert [len(parts[k].signal) for k in ("train", "valid", "test")] == [80, 10, 10]
    assert parts["valid"].signal[0] == 80 and parts["test"].signal[-1] == 99


@settings(max_examples=200, deadline=None)
@given(st.integers(3, 60), fractions, st.integers(0, 2**31))
@pytest.mark.slow
def test_file_split_partitions_files_deterministically(n, split, seed):
    names = [f"f{i:03d}.wav" for i in range(n)]
    parts = assign_files(names, split, seed)
    everything = sorted(parts["train"] + parts["valid"] + parts["test"])
    assert everything == list(range(n))  # each file in exactly one split
    assert all(len(parts[k]) >= 1 for k in parts)
    assert assign_files(names, split, seed) == parts
    # the input order of the names does not matter
    reordered = names[::-1]
    parts_rev = assign_files(reordered, split, seed)
    assert {k: sorted(reordered[i] for i in v) for k, v in parts_rev.items()} == {
        k: sorted(names[i] for i in v) for k, v in parts.items()
    }


def test_file_split_depends_on_seed_and_keeps_segments():
    clips = [(f"f{i}", np.full(10 + i, i, np.float32)) for i in range(10)]
    a = split_by_file(clips, (0.8, 0.1, 0.1), seed=0)
    assert [len(a[k].sources) for k in ("train", "valid", "test")] == [8, 1, 1]
    seeds = {tuple(split_by_file(clips, (0.8, 0.1, 0.1), seed=s)["test"].sources) for s in range(8)}
    assert len(seeds) > 1
    for part in a.values():
        for (start, end), name in zip(part.segments, part.sources):
            i = int(name[1:])
            assert end - start == 10 + i and np.all(part.signal[start:end] == i)


def test_file_split_needs_three_files_and_valid_fractions():
    with pytest.raises(DataError, match="at least 3 audio files"):
        assign_files(["a.wav", "b.wav"], (0.8, 0.1, 0.1), 0)
    for bad in [(0.8, 0.2), (0.9, 0.1, 0.0), (0.5, 0.5, 0.5), (-0.1, 0.6, 0.5)]:
        with pytest.raises(DataError, match="data.split"):
            check_fractions(bad)
