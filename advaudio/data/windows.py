"""Training examples: frames and sequences cut lazily from one in-memory signal.

An example starting at sample `s` is `sequence_length + 1` frames; frame `i`
is `signal[s + i * hop : s + i * hop + frame_length]`; inputs are frames
0..n-1 and targets frames 1..n. A new example starts every `window_shift`
samples inside each segment and never crosses a segment boundary. The
tf.data pipeline keeps only the signal and the start positions in memory, so
memory stays O(audio length) whatever the shift.
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf

from advaudio.config import Data, example_span, frame_hop
from advaudio.data.errors import DataError
from advaudio.data.splits import SplitAudio

# Start positions are shuffled in blocks of this many indices (vectorised index_shuffle).
_SHUFFLE_BLOCK = 1024


def check_windowing(data: Data) -> None:
    """Raises DataError for non-positive frame/sequence/shift sizes."""
    for key in ("frame_length", "sequence_length", "window_shift", "batch_size"):
        value = getattr(data, key)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise DataError(f"data.{key}={value!r} must be a positive integer")
    hop = frame_hop(data)
    if isinstance(hop, bool) or not isinstance(hop, int) or hop < 1:
        raise DataError(f"data.frame_hop={data.frame_hop!r} must be a positive integer or None (hop = frame_length)")


def segment_examples(samples: int, span: int, window_shift: int) -> int:
    """Examples in one segment of `samples`: `1 + (samples - span) // window_shift`, 0 if too short."""
    return 0 if samples < span else 1 + (samples - span) // window_shift


def num_examples(split: SplitAudio, data: Data) -> int:
    """Examples in a split: `segment_examples` summed over its segments."""
    check_windowing(data)
    span = example_span(data)
    return int(sum(segment_examples(end - start, span, data.window_shift) for start, end in split.segments))


def example_starts(split: SplitAudio, data: Data) -> np.ndarray:
    """int64 [num_examples]: every valid start position in `split.signal`, in order."""
    check_windowing(data)
    span = example_span(data)
    starts = [
        start + np.arange(segment_examples(end - start, span, data.window_shift), dtype=np.int64) * data.window_shift
        for start, end in split.segments
    ]
    return np.concatenate(starts) if starts else np.zeros(0, np.int64)


def frames_at(split: SplitAudio, start: int, count: int, data: Data) -> np.ndarray:
    """float32 [count, frame_length]: `count` frames at hop spacing from sample `start`.

    Raises DataError when the frames would leave the signal (never wraps around
    with a negative index).
    """
    check_windowing(data)
    hop, length = frame_hop(data), data.frame_length
    end = start + (count - 1) * hop + length
    if start < 0 or count < 1 or end > len(split.signal):
        raise DataError(
            f"{count} frames of {length} samples every {hop} from sample {start} need samples "
            f"[{start}, {end}), but the signal holds {len(split.signal)}; take fewer frames or start earlier"
        )
    index = start + np.arange(count)[:, None] * hop + np.arange(length)[None, :]
    return np.asarray(split.signal[index], dtype=np.float32)


def _shuffled_indices(count: int, seed: int, repeat: bool) -> tf.data.Dataset:
    """Indices 0..count-1 in a fresh seeded permutation per epoch (O(1) memory, no shuffle buffer)."""
    # One seed per epoch; a new deterministic sequence each time the dataset is iterated again.
    epoch_seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
    if not repeat:
        epoch_seeds = epoch_seeds.take(1)
    max_index = tf.constant(count - 1, tf.int64)
    base_seed = tf.constant(seed, tf.int64)

    def one_epoch(epoch_seed):
        key = tf.stack([epoch_seed, base_seed])
        blocks = tf.data.Dataset.range(count).batch(_SHUFFLE_BLOCK)
        return blocks.map(lambda i: tf.random.experimental.index_shuffle(i, key, max_index)).unbatch()

    return epoch_seeds.flat_map(one_epoch)


def make_dataset(
    split: SplitAudio,
    data: Data,
    *,
    shuffle: bool,
    seed: int,
    repeat: bool,
    batch_size: int | None = None,
    device: str | None = None,
) -> tf.data.Dataset:
    """The one training pipeline every objective uses.

    Args:
        split: the (normalised) split to cut examples from.
        data: frame_length, frame_hop, sequence_length, window_shift, batch_size.
        shuffle: visit start positions in a seeded permutation, new each epoch.
        seed: seed of the permutations.
        repeat: iterate forever (epochs follow each other without a gap).
        batch_size: overrides `data.batch_size`.
        device: when set (e.g. "/GPU:0"), batches are prefetched to that device.

    Returns:
        A dataset of `(inputs, targets)`, each float32
        `[batch, sequence_length, frame_length]`; the last partial batch is dropped.
    """
    check_windowing(data)
    batch_size = data.batch_size if batch_size is None else batch_size
    starts = example_starts(split, data)
    count = len(starts)
    if count < batch_size:
        raise DataError(
            f"the split from {sorted(set(split.sources))} holds {count} examples, fewer than one batch of "
            f"{batch_size}; lower data.batch_size or data.window_shift, or use more audio"
        )
    hop, length, steps = frame_hop(data), data.frame_length, data.sequence_length
    span = example_span(data)
    signal = tf.convert_to_tensor(np.asarray(split.signal, dtype=np.float32))
    starts_t = tf.constant(starts, tf.int64)

    def example(index):
        start = tf.gather(starts_t, index)
        chunk = signal[start : start + span]
        if hop == length:
            frames = tf.reshape(chunk, [steps + 1, length])
        else:
            frames = tf.signal.frame(chunk, length, hop)
        frames = tf.ensure_shape(frames, [steps + 1, length])
        return frames[:-1], frames[1:]

    if shuffle:
        indices = _shuffled_indices(count, seed, repeat)
    else:
        indices = tf.data.Dataset.range(count)
        if repeat:
            indices = indices.repeat()
    ds = indices.map(example, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    ds = ds.batch(batch_size, drop_remainder=True)
    # Known epoch length lets Keras size its progress bar; a repeating dataset is infinite.
    ds = ds.apply(tf.data.experimental.assert_cardinality(tf.data.INFINITE_CARDINALITY if repeat else count // batch_size))
    options = tf.data.Options()
    # tf.data's default graph rewrites serialise the captured signal into a GraphDef constant,
    # i.e. one more copy of the whole audio; the pipeline is already parallel and prefetched.
    options.experimental_optimization.apply_default_optimizations = False
    ds = ds.with_options(options)
    if device is not None:
        return ds.apply(tf.data.experimental.prefetch_to_device(device))
    return ds.prefetch(tf.data.AUTOTUNE)
