"""Generation speed: seconds of audio per wall-clock second, compiled rollout vs a naive predict loop.

Run: python benchmarks/generation.py [--seconds 60] [--repeats 5] [--naive-steps 20] [--noise-dim 8] [--json out.json]
     python benchmarks/generation.py --compare-rev 25f36c9 [--rounds 3]   # this code vs an older commit's, batch 1

The model is the default generator (config.Model: 2 GRU layers of 256 units)
at 16 kHz with frames of 4000 (the mse_baseline) and of 400, at batch 1 and 8.
"Naive" is the 2016-style loop: one `model.predict` per generated frame. The compiled settings are timed in
interleaved rounds (every setting once per round) and the figure is the median over rounds; figures are
wall-clock, so a busy machine lowers them; run it alone when you can. With --noise-dim N a stochastic
generator (model.noise_dim = N, temperature 1) is timed too, at batch 1. --compare-rev REV times this
checkout's generation against commit REV's (`git archive` into a temporary folder), batch 1, alternating
one process per tree in rounds, so a shared machine's load hits both alike; the ratio is the claim.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")  # a CPU benchmark
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# --package-root DIR: import advaudio from DIR (an older commit's tree, see --compare-rev); default this checkout.
PACKAGE_ROOT = sys.argv[sys.argv.index("--package-root") + 1] if "--package-root" in sys.argv else ROOT
sys.path.insert(0, PACKAGE_ROOT)

import numpy as np  # noqa: E402

from advaudio import config as config_lib  # noqa: E402
try:
    from advaudio.synthesis import generate, get_rollout  # noqa: E402
except ModuleNotFoundError:  # trees before e653864 (--compare-rev) called it advaudio.generation
    from advaudio.generation import generate, get_rollout  # noqa: E402
from advaudio.models import build_generator  # noqa: E402
from training import cpu_description  # noqa: E402  (benchmarks/training.py)

FRAME_LENGTHS = (4000, 400)
BATCHES = (1, 8)


GOALS = {4000: 2500, 400: 800}  # x real time at batch 1 (issue #11)
NAIVE_GOAL = 100  # x the naive loop


def build(frame_length: int, noise_dim: int = 0):
    data = config_lib.Data(frame_length=frame_length)
    model_cfg = config_lib.Model(noise_dim=noise_dim) if noise_dim else config_lib.Model()  # older trees: no noise_dim
    return build_generator(model_cfg, data), data


def compiled_call(model, seeds, num_samples: int, jit_compile: bool):
    """A call of `generate` (compiled by one warm-up call); time it in rounds."""
    generate(model, seeds, num_samples=num_samples, jit_compile=jit_compile)
    return lambda: generate(model, seeds, num_samples=num_samples, jit_compile=jit_compile)


def median_seconds(calls: dict, rounds: int) -> dict:
    """Median wall time of each call over interleaved rounds."""
    times = {name: [] for name in calls}
    for _ in range(rounds):
        for name, call in calls.items():
            start = time.perf_counter()
            call()
            times[name].append(time.perf_counter() - start)
    return {name: float(np.median(values)) for name, values in times.items()}


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


def batch_one_figures(seconds: float, repeats: int) -> dict:
    """x real time of the compiled (XLA) rollout at batch 1 for each frame length (median of `repeats`)."""
    calls, audio = {}, {}
    for frame_length in FRAME_LENGTHS:
        model, data = build(frame_length)
        seeds = np.random.default_rng(0).normal(scale=0.1, size=(1, config_lib.Generate().seed_frames, frame_length))
        num_samples = int(seconds * data.sample_rate)
        calls[frame_length] = compiled_call(model, seeds.astype(np.float32), num_samples, True)
        audio[frame_length] = num_samples / data.sample_rate
    times = median_seconds(calls, repeats)
    return {str(k): audio[k] / times[k] for k in calls}


def compare_with_revision(rev: str, rounds: int, seconds: float, repeats: int) -> dict:
    """This checkout's batch-1 figures against commit `rev`'s, one process per tree, alternating in rounds."""
    import subprocess
    import tempfile

    old_root = tempfile.mkdtemp(prefix="advaudio-" + rev + "-")
    archive = subprocess.run(["git", "-C", ROOT, "archive", rev, "advaudio"], capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", old_root], input=archive, check=True)
    trees = {rev: old_root, "this checkout": ROOT}
    figures = {name: [] for name in trees}
    for _ in range(rounds):
        for name, root in trees.items():
            out = os.path.join(old_root, "figures.json")
            subprocess.run([sys.executable, os.path.abspath(__file__), "--package-root", root, "--batch-one",
                            "--seconds", str(seconds), "--repeats", str(repeats), "--json", out], check=True,
                           stdout=subprocess.DEVNULL)
            with open(out) as f:
                figures[name].append(json.load(f))
    result = {}
    print(f"\nbatch 1, compiled+XLA, x real time (median over {rounds} alternating rounds of one process per tree):")
    for frame_length in FRAME_LENGTHS:
        medians = {name: float(np.median([r[str(frame_length)] for r in runs])) for name, runs in figures.items()}
        ratio = medians["this checkout"] / medians[rev]
        result[frame_length] = dict(medians, ratio=ratio)
        print(f"  frames {frame_length}: {rev} {medians[rev]:.0f}x, this checkout {medians['this checkout']:.0f}x "
              f"-> {ratio:.2f}x as fast")
    return result


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="audio per sequence in each timed call")
    parser.add_argument("--repeats", type=int, default=5, help="interleaved rounds; the median counts")
    parser.add_argument("--naive-steps", type=int, default=20, help="frames timed for the naive loop")
    parser.add_argument("--noise-dim", type=int, default=0, help="also time a stochastic generator (batch 1)")
    parser.add_argument("--json", default=None, help="also write the figures here")
    parser.add_argument("--compare-rev", default=None, help="time this checkout against this commit (batch 1)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds of --compare-rev")
    parser.add_argument("--package-root", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--batch-one", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.batch_one:  # one tree's figures for --compare-rev
        figures = batch_one_figures(args.seconds, args.repeats)
        with open(args.json, "w") as f:
            json.dump(figures, f)
        return figures
    if args.compare_rev:
        print(f"CPU: {cpu_description()}; load average {os.getloadavg()[0]:.1f} at start")
        return compare_with_revision(args.compare_rev, args.rounds, args.seconds, args.repeats)

    print(f"CPU: {cpu_description()}; load average {os.getloadavg()[0]:.1f} at start")
    seed_frames = config_lib.Generate().seed_frames
    calls, settings, naive = {}, {}, {}
    for frame_length in FRAME_LENGTHS:
        model, data = build(frame_length)
        num_samples = int(args.seconds * data.sample_rate)
        for batch in BATCHES:
            seeds = np.random.default_rng(0).normal(scale=0.1, size=(batch, seed_frames, frame_length)).astype(np.float32)
            for jit in (True, False):
                calls[frame_length, batch, jit, 0] = compiled_call(model, seeds, num_samples, jit)
            settings[frame_length, batch] = (model, batch * num_samples / data.sample_rate)
            naive[frame_length, batch] = batch * frame_length / data.sample_rate / time_naive(model, seeds, args.naive_steps)
        if args.noise_dim:
            noisy, _ = build(frame_length, args.noise_dim)
            seeds = np.random.default_rng(0).normal(scale=0.1, size=(1, seed_frames, frame_length)).astype(np.float32)
            calls[frame_length, 1, True, args.noise_dim] = compiled_call(noisy, seeds, num_samples, True)
    seconds = median_seconds(calls, args.repeats)

    results = []
    print(f"{'frames':>6} {'batch':>5} {'compiled+XLA':>13} {'no XLA':>9} {'naive':>8} {'XLA/naive':>10}   (x real time)")
    for (frame_length, batch), (model, audio_seconds) in settings.items():
        xla = audio_seconds / seconds[frame_length, batch, True, 0]
        plain = audio_seconds / seconds[frame_length, batch, False, 0]
        row = dict(frame_length=frame_length, batch=batch, xla=xla, no_xla=plain, naive=naive[frame_length, batch],
                   speedup_vs_naive=xla / naive[frame_length, batch],
                   xla_used=get_rollout(model, frame_length).jit_compile)
        if args.noise_dim and batch == 1:
            row["xla_noise"] = audio_seconds / seconds[frame_length, batch, True, args.noise_dim]
        results.append(row)
        print(f"{frame_length:>6} {batch:>5} {xla:>13.0f} {plain:>9.0f} {row['naive']:>8.1f} {row['speedup_vs_naive']:>10.0f}")
    if args.noise_dim:
        for row in results:
            if "xla_noise" in row:
                print(f"  stochastic generator (noise_dim {args.noise_dim}), frames {row['frame_length']}, batch 1: "
                      f"{row['xla_noise']:.0f}x real time ({row['xla_noise'] / row['xla']:.2f} of the deterministic model)")
    model_cfg = config_lib.Model()
    separate = weight_products_seconds_per_step(model_cfg.units, model_cfg.layers, paired=False)
    paired = weight_products_seconds_per_step(model_cfg.units, model_cfg.layers, paired=True)
    sample_rate = config_lib.Data().sample_rate
    print(f"\nbatch-1 weight products per step (bare XLA loop, {model_cfg.layers} layers of {model_cfg.units}):"
          f" separate {separate * 1e6:.0f} us, paired {paired * 1e6:.0f} us ({separate / paired:.1f}x faster;"
          f" ceiling {400 / sample_rate / paired:.0f}x real time at frames 400)")
    print(f"\ngoals at batch 1: >= {GOALS[4000]}x real time (frames 4000), >= {GOALS[400]}x (frames 400), "
          f">= {NAIVE_GOAL}x the naive loop")
    for row in results:
        if row["batch"] == 1:
            met = row["xla"] >= GOALS[row["frame_length"]] and row["speedup_vs_naive"] >= NAIVE_GOAL
            print(f"  frames {row['frame_length']}: {row['xla']:.0f}x real time, {row['speedup_vs_naive']:.0f}x naive"
                  f" -> {'met' if met else 'NOT met'}")
    print(f"\nCPU cores visible: {os.cpu_count()}; load average at the end: {os.getloadavg()[0]:.1f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"results": results, "load_average": os.getloadavg()[0], "cpu": cpu_description(),
                       "weight_products_seconds_per_step": {"separate": separate, "paired": paired}}, f, indent=2)
    return {"results": results}


if __name__ == "__main__":
    main()
