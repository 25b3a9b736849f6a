"""Cost of the spectral input encoder against the plain model: one training step and generation, measured in one run.

Rows: "plain" is experiments/mse_baseline.py (the recurrent stack reads raw
frames), "stft_conv" is experiments/stft_encoder.py (the same model and
objective with the STFT + conv encoder in front). The training step is
`trainer.train_step` under `tf.function`, as the loop runs it, on one synthetic
batch of the default shape (benchmarks/objectives.py's batch and timer);
generation is `advaudio.synthesis.generate` at batch 1 (the plain model
folds its rollout; the encoder's cannot fold). Rows are timed in interleaved
rounds so load on the shared machine hits both alike; figures are medians.

Run: python benchmarks/encoders.py [--rounds 5] [--steps 3] [--seconds 10] [--set data.batch_size=4]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from benchmarks.objectives import build_step, load_row, synthetic_batch, time_steps  # noqa: E402

ROWS = {"plain": "experiments/mse_baseline.py", "stft_conv": "experiments/stft_encoder.py"}
SEED_FRAMES = 4


def generation_seconds(generator, cfg, seconds: float) -> float:
    """Wall seconds to generate `seconds` of audio at batch 1 (after a warm-up call that compiles)."""
    from advaudio.synthesis import generate

    seeds = np.random.default_rng(0).normal(size=(1, SEED_FRAMES, cfg.data.frame_length)).astype(np.float32)
    samples = int(seconds * cfg.data.sample_rate)
    generate(generator, seeds, num_samples=samples)
    start = time.perf_counter()
    generate(generator, seeds, num_samples=samples)
    return time.perf_counter() - start


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=3, help="training steps per row per round")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=10.0, help="audio generated per row per round")
    args = parser.parse_args(argv)

    from advaudio.models import build_generator

    prepared = {}
    for name, path in ROWS.items():
        cfg = load_row(path, args.overrides)
        step, batch = build_step(cfg), synthetic_batch(cfg)
        time_steps(step, batch, args.warmup)  # trace, compile, warm caches
        generator = build_generator(cfg.model, cfg.data)
        prepared[name] = (cfg, step, batch, generator)
    train = {name: [] for name in ROWS}
    generation = {name: [] for name in ROWS}
    for _ in range(args.rounds):
        for name, (cfg, step, batch, generator) in prepared.items():
            train[name].append(time_steps(step, batch, args.steps))
            generation[name].append(generation_seconds(generator, cfg, args.seconds))
    cfg = prepared["plain"][0]
    print(f"frames {cfg.data.frame_length}, sequence {cfg.data.sequence_length}, batch {cfg.data.batch_size}, "
          f"{cfg.model.layers} {cfg.model.cell.upper()} layers of {cfg.model.units}; median of {args.rounds} rounds")
    base_train, base_gen = statistics.median(train["plain"]), statistics.median(generation["plain"])
    print(f"{'':<10} {'training step':>18} {f'generation, {args.seconds:g} s at batch 1':>34}")
    print(f"{'row':<10} {'ms':>9} {'x plain':>8} {'x real time':>12} {'time x plain':>13}")
    for name in ROWS:
        step_s, gen_s = statistics.median(train[name]), statistics.median(generation[name])
        print(f"{name:<10} {1000 * step_s:9.1f} {step_s / base_train:8.2f} {args.seconds / gen_s:12.1f} "
              f"{gen_s / base_gen:13.2f}")
    spread = max(max(v) / min(v) for v in [*train.values(), *generation.values()])
    print(f"largest max/min over rounds in any row: {spread:.2f} (the machine's noise)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
