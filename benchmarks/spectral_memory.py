"""Speed, peak memory and compile time of the spectral training step, per way of computing the MR-STFT.

Each variant runs in its own process (peak memory is per process), one after
the other in this run: experiments/spectral.py on the default model and a
synthetic batch, `trainer.train_step` under `tf.function` as the training loop
runs it. Columns: milliseconds per step (median of rounds after two warm-up
steps) and the ratio to the MSE step measured in the same run, the process's
peak resident memory, and the first step's time (tracing and XLA compilation).
Variants: `objective.stft.chunk_samples` (sequences per group of spectrograms;
the shipped default is losses.CHUNK_SAMPLES), and "separate programs": the
spec/* value in one XLA program and its gradient in another, as before
`losses.weighted_stft_components` (the loss context is built without the
training flag).

Run: python benchmarks/spectral_memory.py
     python benchmarks/spectral_memory.py --steps 3 --rounds 3
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# name -> (experiment file, overrides, value and gradient in separate programs)
VARIANTS = {
    "mse (baseline)": ("experiments/mse_baseline.py", [], False),
    "separate programs, whole batch": ("experiments/spectral.py", ["objective.stft={'chunk_samples': None}"], True),
    "one program, whole batch": ("experiments/spectral.py", ["objective.stft={'chunk_samples': None}"], False),
    "one program, 4 sequences per group (default)": ("experiments/spectral.py", [], False),
    "one program, 2 sequences per group": ("experiments/spectral.py", ["objective.stft={'chunk_samples': 400000}"], False),
    "one program, 1 sequence per group": ("experiments/spectral.py", ["objective.stft={'chunk_samples': 200000}"], False),
}


def peak_memory_gb() -> float:
    """The process's peak resident memory (VmHWM)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM"):
            return int(line.split()[1]) / 1e6
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6


def measure(name: str, steps: int, rounds: int) -> dict:
    """Runs in the child process: one variant."""
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import objectives as bench  # noqa: E402  (benchmarks/objectives.py: the same batch and step)

    path, overrides, separate = VARIANTS[name]
    if separate:
        from advaudio.objectives import base

        training_context = base.FrameTrainer.training_context

        def without_training_flag(self, preds, targets, second=None):
            ctx = training_context(self, preds, targets, second)
            ctx.training = False
            return ctx

        base.FrameTrainer.training_context = without_training_flag
    cfg = bench.load_row(path, overrides)
    batch = bench.synthetic_batch(cfg)
    step = bench.build_step(cfg)
    start = time.perf_counter()
    bench.time_steps(step, batch, 1)
    first = time.perf_counter() - start
    bench.time_steps(step, batch, 1)
    times = [bench.time_steps(step, batch, steps) for _ in range(rounds)]
    return {"ms": 1000 * statistics.median(times), "peak_gb": peak_memory_gb(), "first_s": first}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=2, help="steps per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--one", help=argparse.SUPPRESS)  # child process: measure this variant, print JSON
    args = parser.parse_args(argv)
    if args.one:
        print("RESULT " + json.dumps(measure(args.one, args.steps, args.rounds)))
        return 0
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    results = {}
    for name in VARIANTS:
        proc = subprocess.run(
            [sys.executable, __file__, "--one", name, "--steps", str(args.steps), "--rounds", str(args.rounds)],
            capture_output=True, text=True, env=env,
        )
        lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
        if proc.returncode != 0 or not lines:
            print(f"{name}: failed\n{proc.stderr[-2000:]}", file=sys.stderr)
            return 1
        results[name] = json.loads(lines[-1][len("RESULT "):])
        print(f"  measured {name}", file=sys.stderr)
    baseline = results[next(iter(VARIANTS))]["ms"]
    print("spectral training step (experiments/spectral.py, default model, whole sequences), one process per row")
    print(f"{'variant':<46} {'ms/step':>8} {'x mse':>6} {'peak GB':>8} {'first step s':>13}")
    for name, r in results.items():
        print(f"{name:<46} {r['ms']:8.0f} {r['ms'] / baseline:6.2f} {r['peak_gb']:8.2f} {r['first_s']:13.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
