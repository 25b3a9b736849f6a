"""Cost of scoring samples against one reference: the reference side recomputed per sample against a shared
`metrics.ReferenceProfile` (what `advaudio.compare` does), measured in one run.

Rows: "per sample" calls `metrics.evaluate_audio(sample, reference_array, ...)` for each sample, so every
call recomputes the reference's spectra, MFCC features and `*_data` values (the code before the profile);
"shared profile" builds one `ReferenceProfile` per round and scores every sample against it. Both rows give
the same values bit for bit (tests/test_evaluation_metrics.py). The audio is synthesized here: a reference of
`--reference-minutes` of plucked notes over a chord and noise (music-like: onsets, partials, a floor), and
`--samples` samples of `--sample-seconds` from the same recipe with another seed. As in `advaudio.compare`'s
default (reference = the train split), the reference is also the training audio of the copy detector
(`train_copy`), whose cost is the sample's and stays in both rows. Rows are timed in
interleaved rounds so load on the shared machine hits both alike; figures are medians.

Run: python benchmarks/compare_reference.py [--rounds 3] [--samples 6] [--sample-seconds 30] [--reference-minutes 4]
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

from advaudio.evaluation import metrics  # noqa: E402

SAMPLE_RATE = 16000
# The flagship's frames: 4000 samples every 2000.
FRAME_LENGTH, FRAME_HOP = 4000, 2000


def music_like(seconds: float, seed: int) -> np.ndarray:
    """Plucked notes (60 ms decay) at random places over a three-note chord and a noise floor [samples]."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    audio = sum(0.08 * np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi)) for f in (110.0, 138.6, 164.8))
    audio = audio + 0.01 * rng.standard_normal(n)
    pluck_t = np.arange(int(0.3 * SAMPLE_RATE)) / SAMPLE_RATE
    for start in rng.integers(0, n - pluck_t.size, size=int(3 * seconds)):
        freq = 220.0 * 2 ** (rng.integers(0, 24) / 12)
        audio[start:start + pluck_t.size] += 0.3 * np.sin(2 * np.pi * freq * pluck_t) * np.exp(-pluck_t / 0.06)
    return audio.astype(np.float32)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--samples", type=int, default=6, help="samples scored per row per round")
    parser.add_argument("--sample-seconds", type=float, default=30.0)
    parser.add_argument("--reference-minutes", type=float, default=4.0)
    args = parser.parse_args(argv)

    reference = music_like(60.0 * args.reference_minutes, seed=0)
    samples = [music_like(args.sample_seconds, seed=1 + k) for k in range(args.samples)]

    def per_sample():
        return [metrics.evaluate_audio(x, reference, SAMPLE_RATE, FRAME_LENGTH, FRAME_HOP, train_reference=reference)
                for x in samples]

    def shared_profile():
        profile = metrics.ReferenceProfile(reference, SAMPLE_RATE)
        return [metrics.evaluate_audio(x, profile, SAMPLE_RATE, FRAME_LENGTH, FRAME_HOP, train_reference=reference)
                for x in samples]

    # Warm-up: librosa's numba kernels compile on first use, which would land on the first row timed.
    metrics.evaluate_audio(samples[0][: 5 * SAMPLE_RATE], reference[: 10 * SAMPLE_RATE], SAMPLE_RATE, FRAME_LENGTH,
                           FRAME_HOP)
    rows = {"per sample": per_sample, "shared profile": shared_profile}
    times: dict[str, list[float]] = {name: [] for name in rows}
    results = {}
    for round_index in range(args.rounds):
        for name, score in rows.items():
            start = time.perf_counter()
            results[name] = score()
            times[name].append(time.perf_counter() - start)
        print(f"round {round_index + 1}/{args.rounds}: "
              + ", ".join(f"{name} {times[name][-1]:.1f} s" for name in rows), flush=True)
    if results["per sample"] != results["shared profile"]:
        raise SystemExit("the two rows scored different values: the profile is not equivalent")

    print(f"\n{args.samples} samples of {args.sample_seconds:.0f} s against a {args.reference_minutes:.0f}-minute "
          f"reference, median of {args.rounds} interleaved rounds (same values in both rows):")
    print("| row | seconds for all samples | seconds a sample |")
    print("|---|---|---|")
    medians = {name: statistics.median(values) for name, values in times.items()}
    for name, median in medians.items():
        print(f"| {name} | {median:.1f} | {median / args.samples:.2f} |")
    print(f"\nshared profile / per sample: {medians['shared profile'] / medians['per sample']:.2f}x the time "
          f"({medians['per sample'] / medians['shared profile']:.2f}x faster)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
