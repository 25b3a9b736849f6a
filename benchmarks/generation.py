"""Generation speed: seconds of audio per wall-clock second, compiled rollout vs a naive predict loop.

Run: python benchmarks/generation.py [--seconds 60] [--repeats 5] [--naive-steps 20] [--json out.json]

The model is the default generator (config.Model: 2 GRU layers of 256 units)
at 16 kHz with frames of 4000 (the mse_baseline) and of 400, at batch 1 and 8.
"Naive" is the 2016-style loop: one `model.predict` per generated frame. Figures are wall-clock, so a busy machine
lowers them; run it alone when you can.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")  # a CPU benchmark
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # run from anywhere

import numpy as np  # noqa: E402

from advaudio import config as config_lib  # noqa: E402
from advaudio.generation import generate, get_rollout  # noqa: E402
from advaudio.models import build_generator  # noqa: E402

FRAME_LENGTHS = (4000, 400)
BATCHES = (1, 8)


def build(frame_length: int):
    data = config_lib.Data(frame_length=frame_length)
    return build_generator(config_lib.Model(), data), data


def time_compiled(model, seeds, num_samples: int, repeats: int, jit_compile: bool) -> float:
    """Best wall time of `generate` (after one warm-up call that compiles)."""
    generate(model, seeds, num_samples=num_samples, jit_compile=jit_compile)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        generate(model, seeds, num_samples=num_samples, jit_compile=jit_compile)
        best = min(best, time.perf_counter() - start)
    return best


def time_naive(model, seeds, steps: int) -> float:
    """Wall time per generated frame of a loop that calls model.predict once per step.

    Each call sees only the latest frame (as a stateful 2016 Keras model
    would): the cheapest possible predict call, so the ratio is conservative.
    """
    frame = seeds[:, -1:]
    model.predict(frame, verbose=0)  # builds the predict function
    start = time.perf_counter()
    for _ in range(steps):
        frame = model.predict(frame, verbose=0)
    return (time.perf_counter() - start) / steps


def weight_products_seconds_per_step(units: int, layers: int, paired: bool, steps: int = 2000) -> float:
    """Wall time per step of a bare XLA loop doing only a folded step's weight products.

    A folded GRU step multiplies each layer's new `[1, units]` output by two
    `[units, 3 * units]` kernels (the next layer's input kernel and its own
    recurrent kernel). `paired=False` runs them as 2 * layers separate
    products; `paired=True` as `layers` batched products
    `[2, 1, units] @ [2, units, 3 * units]`, as the rollout does.
    """
    import tensorflow as tf

    rng = np.random.default_rng(0)
    kernels = [rng.normal(scale=0.01, size=(2, units, 3 * units)).astype(np.float32) for _ in range(layers)]
    stacked = [tf.constant(k) for k in kernels]
    separate = [[tf.constant(k[0]), tf.constant(k[1])] for k in kernels]

    def squash(y):  # [..., 3 * units] -> [1, units], using every output
        return tf.tanh(tf.reduce_sum(tf.reshape(y, [-1, units]), 0))[None]

    @tf.function(jit_compile=True)
    def loop(h, n):
        for _ in tf.range(n):
            for i in range(layers):
                if paired:
                    h = squash(tf.matmul(tf.stack([h, h]), stacked[i]))
                else:
                    h = squash(tf.concat([tf.matmul(h, separate[i][0]), tf.matmul(h, separate[i][1])], 1))
        return h

    h = tf.zeros((1, units))
    loop(h, tf.constant(10)).numpy()
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        loop(h, tf.constant(steps)).numpy()
        best = min(best, (time.perf_counter() - start) / steps)
    return best


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="audio per sequence in each timed call")
    parser.add_argument("--repeats", type=int, default=5, help="timed calls per setting; the best counts")
    parser.add_argument("--naive-steps", type=int, default=20, help="frames timed for the naive loop")
    parser.add_argument("--json", default=None, help="also write the figures here")
    args = parser.parse_args(argv)

    seed_frames = config_lib.Generate().seed_frames
    results = []
    print(f"{'frames':>6} {'batch':>5} {'compiled+XLA':>13} {'no XLA':>9} {'naive':>8} {'XLA/naive':>10}   (x real time)")
    for frame_length in FRAME_LENGTHS:
        model, data = build(frame_length)
        num_samples = int(args.seconds * data.sample_rate)
        for batch in BATCHES:
            seeds = np.random.default_rng(0).normal(scale=0.1, size=(batch, seed_frames, frame_length)).astype(np.float32)
            audio_seconds = batch * num_samples / data.sample_rate
            xla = audio_seconds / time_compiled(model, seeds, num_samples, args.repeats, jit_compile=True)
            plain = audio_seconds / time_compiled(model, seeds, num_samples, args.repeats, jit_compile=False)
            per_frame = time_naive(model, seeds, args.naive_steps)
            naive = batch * frame_length / data.sample_rate / per_frame
            row = dict(frame_length=frame_length, batch=batch, xla=xla, no_xla=plain, naive=naive,
                       speedup_vs_naive=xla / naive, xla_used=get_rollout(model, frame_length).jit_compile)
            results.append(row)
            print(f"{frame_length:>6} {batch:>5} {xla:>13.0f} {plain:>9.0f} {naive:>8.1f} {xla / naive:>10.0f}")
    model_cfg = config_lib.Model()
    separate = weight_products_seconds_per_step(model_cfg.units, model_cfg.layers, paired=False)
    paired = weight_products_seconds_per_step(model_cfg.units, model_cfg.layers, paired=True)
    sample_rate = config_lib.Data().sample_rate
    print(f"\nbatch-1 weight products per step (bare XLA loop, {model_cfg.layers} layers of {model_cfg.units}):"
          f" separate {separate * 1e6:.0f} us, paired {paired * 1e6:.0f} us ({separate / paired:.1f}x faster;"
          f" ceiling {400 / sample_rate / paired:.0f}x real time at frames 400)")
    goals = {4000: 800, 400: 400}
    print("\ngoals at batch 1: >= 800x real time (frames 4000), >= 400x (frames 400), >= 100x the naive loop")
    for row in results:
        if row["batch"] == 1:
            met = row["xla"] >= goals[row["frame_length"]] and row["speedup_vs_naive"] >= 100
            print(f"  frames {row['frame_length']}: {row['xla']:.0f}x real time, {row['speedup_vs_naive']:.0f}x naive"
                  f" -> {'met' if met else 'NOT met'}")
    print(f"\nCPU cores visible: {os.cpu_count()}; load average: {os.getloadavg()[0]:.1f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"results": results, "load_average": os.getloadavg()[0], "cpus": os.cpu_count(),
                       "weight_products_seconds_per_step": {"separate": separate, "paired": paired}}, f, indent=2)
    return {"results": results}


if __name__ == "__main__":
    main()
