"""Pipeline benchmark: examples/s delivered vs consumed by the default model, and memory added.

On a 60-minute 16 kHz signal with the default data config (frames of 4000,
sequences of 50, batches of 16): the examples per second `make_dataset`
delivers against the examples per second the default FrameGRU (2 GRU layers
of 256) consumes in training (goal: >= 20x), and the RSS the pipeline adds
(peak while building and iterating; and after iterating), relative to the audio array's size, for window_shift 1000
and 100 (goal: <= 2.5x, the same for both). Prints figures; asserts nothing.

Run: python benchmarks/pipeline.py [--minutes 60] [--batches 150] [--train-steps 6]
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # run from a checkout


def rss_bytes(field: str = "VmRSS") -> int:
    """Resident memory of this process from /proc/self/status (VmRSS now, VmHWM peak)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def reset_peak_rss() -> bool:
    """Resets VmHWM to the current RSS (Linux >= 4.0); False where not allowed."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def make_split(minutes: float, sample_rate: int):
    import numpy as np

    from advaudio.data import SplitAudio

    samples = int(minutes * 60 * sample_rate)
    signal = np.random.default_rng(0).standard_normal(samples, dtype=np.float32)
    return SplitAudio(signal, [(0, samples)], ["benchmark"])


def measure_memory(minutes: float, window_shift: int, batches: int) -> dict:
    """RSS added by building and iterating the pipeline (run in a fresh process per shift)."""
    import tensorflow as tf

    from advaudio.config import Data
    from advaudio.data import make_dataset, num_examples

    data = dataclasses.replace(Data(), window_shift=window_shift)
    split = make_split(minutes, data.sample_rate)
    # Start the TF runtime (thread pools, tf.data machinery) on a tiny pipeline so that it is not counted.
    tiny = make_dataset(make_split(0.5, data.sample_rate), dataclasses.replace(data, window_shift=4000), shuffle=True, seed=0, repeat=True)
    for _ in tiny.take(3):
        pass
    del tiny
    base = rss_bytes()
    have_peak = reset_peak_rss()
    ds = make_dataset(split, data, shuffle=True, seed=0, repeat=True)
    peak = base
    for _ in ds.take(batches):
        peak = max(peak, rss_bytes())
    steady = rss_bytes()
    if have_peak:
        peak = max(peak, rss_bytes("VmHWM"))
    audio = split.signal.nbytes
    return {
        "window_shift": window_shift,
        "examples": num_examples(split, data),
        "audio_mb": audio / 2**20,
        "added_mb": (peak - base) / 2**20,
        "added_over_audio": (peak - base) / audio,
        "steady_over_audio": (steady - base) / audio,
        "exact_peak": have_peak,
        "tf": tf.__version__,
    }


def measure_pipeline(split, data, batches: int) -> float:
    """Examples per second `make_dataset` delivers (shuffled, repeating), after warm-up."""
    from advaudio.data import make_dataset

    ds = make_dataset(split, data, shuffle=True, seed=0, repeat=True)
    iterator = iter(ds)
    for _ in range(10):
        next(iterator)
    start = time.perf_counter()
    for _ in range(batches):
        inputs, targets = next(iterator)
    _ = float(inputs[0, 0, 0]) + float(targets[-1, -1, -1])  # make sure the last batch is materialised
    return batches * data.batch_size / (time.perf_counter() - start)


def measure_model(data, steps: int) -> float:
    """Examples per second the default model trains on (plain Keras, adam + mse), after warm-up."""
    import keras
    import numpy as np

    from advaudio.config import Model
    from advaudio.models import build_generator

    model = build_generator(Model(), data)
    model.compile(optimizer="adam", loss="mse")
    rng = np.random.default_rng(0)
    shape = (data.batch_size, data.sequence_length, data.frame_length)
    x = rng.standard_normal(shape, dtype=np.float32)
    y = rng.standard_normal(shape, dtype=np.float32)
    for _ in range(2):
        model.train_on_batch(x, y)
    start = time.perf_counter()
    for _ in range(steps):
        loss = model.train_on_batch(x, y)
    float(np.asarray(loss).ravel()[0])
    keras.backend.clear_session()
    return steps * data.batch_size / (time.perf_counter() - start)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--batches", type=int, default=150, help="batches timed / iterated for memory")
    parser.add_argument("--train-steps", type=int, default=6)
    parser.add_argument("--memory-only", type=int, default=None, metavar="SHIFT", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.memory_only is not None:
        print(json.dumps(measure_memory(args.minutes, args.memory_only, args.batches)))
        return

    memory = []
    for shift in (1000, 100):
        # A fresh process per shift, so that one measurement's allocations do not hide the other's.
        out = subprocess.run(
            [sys.executable, __file__, "--minutes", str(args.minutes), "--batches", str(args.batches), "--memory-only", str(shift)],
            check=True, capture_output=True, text=True,
        ).stdout
        memory.append(json.loads(out.strip().splitlines()[-1]))

    import os as _os

    from advaudio.config import Data

    data = Data()
    split = make_split(args.minutes, data.sample_rate)
    delivered = measure_pipeline(split, data, args.batches)
    consumed = measure_model(data, args.train_steps)

    print(f"advaudio pipeline benchmark: {args.minutes:g} min at {data.sample_rate} Hz, frames {data.frame_length}, "
          f"sequence {data.sequence_length}, batch {data.batch_size}, {_os.cpu_count()} CPUs")
    print(f"  pipeline delivers  {delivered:10.1f} examples/s (window_shift {data.window_shift}, shuffled)")
    print(f"  model consumes     {consumed:10.1f} examples/s (FrameGRU 2 x GRU 256, adam + mse, train_on_batch)")
    print(f"  ratio              {delivered / consumed:10.1f} x   (goal >= 20x)")
    for m in memory:
        print(f"  memory, window_shift {m['window_shift']:>4}: {m['examples']:>7} examples, audio {m['audio_mb']:.0f} MiB, "
              f"pipeline adds {m['added_mb']:.0f} MiB at peak = {m['added_over_audio']:.2f}x the audio (goal <= 2.5x), "
              f"{m['steady_over_audio']:.2f}x after {args.batches} batches")


if __name__ == "__main__":
    main()
