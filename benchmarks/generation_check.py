"""Cost of the per-epoch generation check (train.generation_check) as a share of a training epoch.

Prints, measured in one run on the default data and model (mse_baseline, the budget of every
experiment): the median time of one training step (training.Loop, MSE), the epoch it implies
(train.steps_per_epoch steps; validation left out, so the share is an upper bound), the median time of
one generation check at its defaults (generating train.generation_check.count x seconds free-running
through advaudio.synthesis, then scoring gen/*), the first check's time (compiling the rollout,
importing librosa, scoring the reference once) and the ratio check / epoch. Training steps and checks
are interleaved round by round, so a busy machine slows both alike. Goal: <= 10% (issue 13).

Run: python benchmarks/generation_check.py [--rounds 5] [--steps 10]
"""
from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # run from a checkout

import numpy as np  # noqa: E402

from advaudio import config as C  # noqa: E402
from advaudio import data as data_lib  # noqa: E402
from advaudio import training  # noqa: E402
from advaudio.evaluation import generation_check  # noqa: E402
from advaudio.models import build_generator  # noqa: E402
from advaudio.objectives import build_trainer  # noqa: E402

GOAL = 0.10


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds of training steps and one check")
    parser.add_argument("--steps", type=int, default=10, help="training steps per round")
    args = parser.parse_args(argv)

    cfg = C.Experiment(name="mse_baseline")
    strategy = training.make_strategy(cfg.train)
    prepared = data_lib.prepare(cfg.data)
    with strategy.scope():
        generator = build_generator(cfg.model, cfg.data)
        trainer = build_trainer(cfg, generator)
    loop = training.Loop(trainer, strategy, jit_compile=cfg.train.jit_compile)
    dataset = data_lib.make_dataset(prepared.train, cfg.data, shuffle=True, seed=0, repeat=True)
    iterator = iter(loop.distribute(dataset))
    for _ in range(2):  # trace and warm up
        loop.train_fn(iterator)

    start = time.perf_counter()
    check = generation_check.GenerationCheck(cfg, prepared)
    check.run(generator)
    first = time.perf_counter() - start

    step_times, check_times = [], []
    for _ in range(args.rounds):
        start = time.perf_counter()
        for _ in range(args.steps):
            {k: float(v) for k, v in loop.train_fn(iterator).items()}
        step_times.append((time.perf_counter() - start) / args.steps)
        start = time.perf_counter()
        check.run(generator)
        check_times.append(time.perf_counter() - start)

    step, per_check = float(np.median(step_times)), float(np.median(check_times))
    epoch = step * cfg.train.steps_per_epoch
    gc = cfg.train.generation_check
    print(f"default model and data; {args.rounds} interleaved rounds of {args.steps} training steps + 1 check")
    print(f"training step (median):            {step * 1000:8.1f} ms   (rounds: {', '.join(f'{t * 1000:.0f}' for t in step_times)})")
    print(f"epoch of {cfg.train.steps_per_epoch} steps (no validation):  {epoch:8.1f} s")
    print(f"generation check, {gc.count} x {gc.seconds:g} s (median): {per_check:8.2f} s   "
          f"(rounds: {', '.join(f'{t:.2f}' for t in check_times)})")
    print(f"first check (compile + reference): {first:8.2f} s   (once per run: {first / (epoch * cfg.train.epochs):.1%} "
          f"of {cfg.train.epochs} epochs)")
    ratio = per_check / epoch
    print(f"check / epoch:                     {ratio:8.1%}   goal <= {GOAL:.0%}: {'met' if ratio <= GOAL else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
