"""Examples cut from a split: counts, slices, overlap, shuffling (advaudio/data/windows.py)."""
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings, strategies as st

from advaudio.config import Data, example_span
from advaudio.data import DataError, SplitAudio, example_starts, frames_at, make_dataset, num_examples
from advaudio.data.splits import split_by_time


def ramp_split(lengths):
    """Segments of the given lengths; sample value == its index, so slices are easy to check."""
    total = int(sum(lengths))
    segments, pos = [], 0
    for n in lengths:
        segments.append((pos, pos + n))
        pos += n
    return SplitAudio(np.arange(total, dtype=np.float32), segments, [f"s{i}" for i in range(len(lengths))])


def expected_example(signal, start, data):
    hop = data.frame_hop or data.frame_length
    frames = np.stack(
        [signal[start + i * hop : start + i * hop + data.frame_length] for i in range(data.sequence_length + 1)]
    )
    return frames[:-1], frames[1:]


windowing = st.fixed_dictionaries(
    {
        "frame_length": st.integers(1, 12),
        "hop": st.one_of(st.none(), st.integers(1, 12)),
        "sequence_length": st.integers(1, 6),
        "window_shift": st.integers(1, 40),
        "lengths": st.lists(st.integers(0, 160), min_size=1, max_size=4),
    }
)


def data_of(w, batch_size=1):
    return Data(
        frame_length=w["frame_length"],
        frame_hop=w["hop"],
        sequence_length=w["sequence_length"],
        window_shift=w["window_shift"],
        batch_size=batch_size,
    )


@settings(max_examples=200, deadline=None)
@given(windowing)
def test_count_and_starts_match_formula_per_segment(w):
    data = data_of(w)
    split = ramp_split(w["lengths"])
    span = example_span(data)
    expected_count = sum(0 if n < span else 1 + (n - span) // w["window_shift"] for n in w["lengths"])
    starts = example_starts(split, data)
    assert num_examples(split, data) == expected_count == len(starts)
    # every start is a multiple of the shift from its segment start and its example stays inside the segment
    for s in starts:
        seg = [(a, b) for a, b in split.segments if a <= s < b]
        assert len(seg) == 1
        a, b = seg[0]
        assert (s - a) % w["window_shift"] == 0 and s + span <= b
    assert np.all(np.diff(starts) > 0)


@settings(max_examples=200, deadline=None)
@given(windowing, st.data())
@pytest.mark.slow
def test_frames_at_equals_numpy_slices(w, draw):
    data = data_of(w)
    split = ramp_split(w["lengths"])
    hop = w["hop"] or w["frame_length"]
    n = len(split.signal)
    count = draw.draw(st.integers(1, 6))
    start = draw.draw(st.integers(0, max(0, n)))
    end = start + (count - 1) * hop + w["frame_length"]
    if end > n:
        with pytest.raises(DataError, match="frames"):
            frames_at(split, start, count, data)
        return
    frames = frames_at(split, start, count, data)
    assert frames.shape == (count, w["frame_length"]) and frames.dtype == np.float32
    for i in range(count):
        np.testing.assert_array_equal(frames[i], split.signal[start + i * hop : start + i * hop + w["frame_length"]])


@settings(max_examples=25, deadline=None)
@given(windowing)
@pytest.mark.slow
def test_every_dataset_example_equals_its_numpy_slice(w):
    data = data_of(w)
    split = ramp_split(w["lengths"])
    starts = example_starts(split, data)
    if len(starts) == 0:
        with pytest.raises(DataError, match="fewer than one batch"):
            make_dataset(split, data, shuffle=False, seed=0, repeat=False)
        return
    ds = make_dataset(split, data, shuffle=False, seed=0, repeat=False)
    seen = 0
    for (inputs, targets), start in zip(ds.as_numpy_iterator(), starts):
        want_in, want_tg = expected_example(split.signal, start, data)
        assert inputs.shape == (1, data.sequence_length, data.frame_length)
        np.testing.assert_array_equal(inputs[0], want_in)
        np.testing.assert_array_equal(targets[0], want_tg)
        seen += 1
    assert seen == len(starts)


@settings(max_examples=200, deadline=None)
@given(
    windowing,
    st.integers(0, 600),
    st.tuples(st.floats(0.05, 1.0), st.floats(0.05, 1.0), st.floats(0.05, 1.0)).map(lambda t: tuple(v / sum(t) for v in t)),
)
@pytest.mark.slow
def test_examples_of_time_splits_stay_inside_their_split(w, total, fractions):
    data = data_of(w)
    span = example_span(data)
    signal = np.arange(total, dtype=np.float32)  # value == position in the whole recording
    parts = split_by_time("x", signal, fractions)
    offset = 0
    for key in ("train", "valid", "test"):
        part = parts[key]
        n = part.samples
        starts = example_starts(part, data)
        assert len(starts) == (0 if n < span else 1 + (n - span) // w["window_shift"])
        for s in starts:
            frames = frames_at(part, int(s), data.sequence_length + 1, data)
            assert frames.min() >= offset and frames.max() < offset + n  # never reaches into another split
            np.testing.assert_array_equal(frames[:, 0], offset + s + np.arange(data.sequence_length + 1) * (w["hop"] or w["frame_length"]))
        offset += n
    assert offset == total


DATA = Data(frame_length=4, frame_hop=None, sequence_length=3, window_shift=2, batch_size=5)
SPLIT = ramp_split([103, 60])  # span 16: 1 + 87 // 2 = 44 and 1 + 44 // 2 = 23 examples


def epoch_starts(ds, batches):
    """Start sample of each example in the first `batches` batches."""
    out = []
    for inputs, _ in ds.take(batches).as_numpy_iterator():
        out.extend(inputs[:, 0, 0].astype(int).tolist())
    return out


def test_hand_computed_count():
    assert num_examples(SPLIT, DATA) == 44 + 23


@pytest.mark.slow
def test_shuffled_epoch_is_a_permutation_and_changes_every_epoch():
    starts = example_starts(SPLIT, DATA).tolist()
    per_epoch = len(starts) // DATA.batch_size
    ds = make_dataset(SPLIT, DATA, shuffle=True, seed=3, repeat=True)
    seq = epoch_starts(ds, 3 * per_epoch + 1)
    # repeat=True: consecutive permutations of all starts without the dropped remainder between epochs
    first, second = seq[: len(starts)], seq[len(starts) : 2 * len(starts)]
    assert sorted(first) == starts and sorted(second) == starts
    assert first != starts and first != second
    # same seed, same order; another seed, another order
    again = epoch_starts(make_dataset(SPLIT, DATA, shuffle=True, seed=3, repeat=True), per_epoch)
    other = epoch_starts(make_dataset(SPLIT, DATA, shuffle=True, seed=4, repeat=True), per_epoch)
    assert again == seq[: len(again)] and other != again


def test_non_repeating_dataset_reshuffles_each_iteration():
    ds = make_dataset(SPLIT, DATA, shuffle=True, seed=0, repeat=False)
    per_epoch = len(example_starts(SPLIT, DATA)) // DATA.batch_size
    one, two = epoch_starts(ds, -1), epoch_starts(ds, -1)
    assert len(one) == len(two) == per_epoch * DATA.batch_size  # drop_remainder
    assert one != two
    assert len(set(one)) == len(one)


def test_unshuffled_order_and_static_shapes():
    ds = make_dataset(SPLIT, DATA, shuffle=False, seed=0, repeat=False, batch_size=2)
    spec = ds.element_spec
    assert spec[0].shape.as_list() == [2, 3, 4] and spec[1].shape.as_list() == [2, 3, 4]
    assert spec[0].dtype == tf.float32
    assert int(ds.cardinality()) == 67 // 2
    assert int(make_dataset(SPLIT, DATA, shuffle=True, seed=0, repeat=False).cardinality()) == 67 // 5
    assert make_dataset(SPLIT, DATA, shuffle=True, seed=0, repeat=True).cardinality() == tf.data.INFINITE_CARDINALITY
    assert epoch_starts(ds, -1) == example_starts(SPLIT, DATA).tolist()[: 2 * (67 // 2)]


def test_overlapping_frames_with_small_hop():
    data = Data(frame_length=6, frame_hop=2, sequence_length=4, window_shift=5, batch_size=1)
    split = ramp_split([40])
    inputs, targets = next(make_dataset(split, data, shuffle=False, seed=0, repeat=False).as_numpy_iterator())
    np.testing.assert_array_equal(inputs[0, 1], np.arange(2, 8))
    np.testing.assert_array_equal(targets[0, -1], np.arange(8, 14))  # frame 4 starts at 4 * hop


@pytest.mark.slow
def test_device_prefetch_works_on_cpu():
    ds = make_dataset(SPLIT, DATA, shuffle=False, seed=0, repeat=False, device="/CPU:0")
    inputs, _ = next(iter(ds))
    np.testing.assert_array_equal(inputs.numpy()[0, 0], np.arange(4))


def test_regression_2016_shift_smaller_than_span_gives_overlapping_examples():
    # The 2016 window-shift loop stepped by the whole span, so no two examples overlapped.
    data = Data(frame_length=10, sequence_length=4, window_shift=3, batch_size=1)
    split = ramp_split([100])
    starts = example_starts(split, data)
    assert starts[:4].tolist() == [0, 3, 6, 9]
    assert len(starts) == 1 + (100 - 50) // 3
    ds = make_dataset(split, data, shuffle=False, seed=0, repeat=False)
    (a, _), (b, _) = list(ds.take(2).as_numpy_iterator())
    assert np.intersect1d(a.ravel(), b.ravel()).size > 0  # shared samples
    np.testing.assert_array_equal(b[0, 0], np.arange(3, 13))


def test_regression_2016_negative_index_slicing_kept_all_data():
    # The 2016 code sliced with negative end indices (x[s:-k]), which silently dropped the tail
    # (and an x[-0:] slice took everything). Here the last example must end exactly at the last sample.
    data = Data(frame_length=5, sequence_length=3, window_shift=5, batch_size=1)
    split = ramp_split([40])  # span 20: starts 0, 5, 10, 15, 20; the last covers samples 20..39
    starts = example_starts(split, data)
    assert starts.tolist() == [0, 5, 10, 15, 20]
    last_inputs, last_targets = list(make_dataset(split, data, shuffle=False, seed=0, repeat=False).as_numpy_iterator())[-1]
    assert last_targets[0, -1, -1] == 39.0 and last_inputs[0, 0, 0] == 20.0
    exact = ramp_split([20])  # exactly one span: exactly one example
    assert num_examples(exact, data) == 1
    np.testing.assert_array_equal(frames_at(exact, 15, 1, data)[0], np.arange(15, 20))
    with pytest.raises(DataError):
        frames_at(exact, 16, 1, data)  # would need sample 20; never wraps to the start
    with pytest.raises(DataError):
        frames_at(exact, -5, 1, data)


def test_bad_windowing_config_is_a_data_error():
    with pytest.raises(DataError, match="data.window_shift"):
        num_examples(SPLIT, Data(window_shift=0))
    with pytest.raises(DataError, match="data.frame_hop"):
        example_starts(SPLIT, Data(frame_hop=0))
    with pytest.raises(DataError, match="fewer than one batch"):
        make_dataset(SPLIT, DATA, shuffle=True, seed=0, repeat=True, batch_size=1000)


@pytest.mark.slow
def test_pipeline_feeds_keras_fit_with_a_tiny_frame_gru():

    from advaudio.config import Model
    from advaudio.models import build_generator

    data = Data(frame_length=8, sequence_length=3, window_shift=4, batch_size=4)
    split = SplitAudio(np.sin(np.arange(400) / 3).astype(np.float32), [(0, 400)], ["sine"])
    model = build_generator(Model(units=4, layers=1), data)
    model.compile(optimizer="adam", loss="mse")
    history = model.fit(make_dataset(split, data, shuffle=True, seed=0, repeat=True), steps_per_epoch=3, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2 and np.all(np.isfinite(history.history["loss"]))
    evaluated = model.evaluate(make_dataset(split, data, shuffle=False, seed=0, repeat=False), verbose=0)
    assert np.isfinite(evaluated)
