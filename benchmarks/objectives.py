"""Cost of one training step of each objective, relative to MSE, measured in one run.

Each row is an experiment file; the step is `trainer.train_step` under
`tf.function`, as the training loop runs it, on a synthetic batch of the
experiment's shape (the cost does not depend on the audio). Rows are timed in
interleaved rounds so that load on a shared machine hits all of them alike;
the figure is the median over rounds. With the spectral row, a row "FFTs alone"
times only the FFTs a whole-sequence MR-STFT step cannot avoid, and the script
prints the floor they set on spectral / MSE on this machine.

Run: python benchmarks/objectives.py                      # the default rows, default model
     python benchmarks/objectives.py --rows mse spectral --rounds 5 --steps 3
     python benchmarks/objectives.py --set data.batch_size=4   # overrides apply to every row
     python benchmarks/objectives.py --all-experiments        # every experiments/*.py file
     python benchmarks/objectives.py --loss-only               # the MR-STFT loss alone: naive vs as shipped
To add a row, add `name: (experiment file, overrides)` to ROWS (the first row is the baseline).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from advaudio import config as config_lib  # noqa: E402
from advaudio import losses, spectrum  # noqa: E402
from advaudio.models import build_generator  # noqa: E402
from advaudio.objectives import build_trainer  # noqa: E402

# name -> (experiment file relative to the repository root, its overrides). The first row is the baseline.
ROWS = {
    "mse": ("experiments/mse_baseline.py", []),
    "spectral": ("experiments/spectral.py", []),
    "mse_spectral": ("experiments/mse_spectral.py", []),
    # The spectral terms on a random 1 s run of 4 frames per sequence (what experiments/gan_denoise.py trains with):
    # a different measurement (16 s of audio per step instead of 200 s), shown for comparison.
    "spectral_segments": ("experiments/spectral.py", ["objective.stft={'segment_frames': 4}"]),
    # spec/energy (noise_dim 16): two generations per step and three spectrograms per resolution, on the same
    # 4-frame segments: compare with spectral_segments.
    "spectral_energy": ("experiments/spectral_energy.py", []),
}


def load_row(path: str, overrides: list[str]) -> config_lib.Experiment:
    cfg, _ = config_lib.load_experiment(ROOT / path)
    return config_lib.apply_overrides(cfg, overrides)


def synthetic_batch(cfg: config_lib.Experiment, seed: int = 0):
    """(inputs, targets) `[batch, sequence_length, frame_length]` of standardised noisy tones."""
    data = cfg.data
    hop = config_lib.frame_hop(data)
    span = config_lib.example_span(data)
    rng = np.random.default_rng(seed)
    t = np.arange(span) / data.sample_rate
    audio = np.sin(2 * np.pi * rng.uniform(100, 1000, (data.batch_size, 1)) * t) + 0.1 * rng.normal(size=(data.batch_size, span))
    frames = tf.signal.frame(audio.astype(np.float32), data.frame_length, hop)[:, : data.sequence_length + 1]
    return frames[:, :-1], frames[:, 1:]


def build_step(cfg: config_lib.Experiment):
    tf.keras.utils.set_random_seed(cfg.train.seed)
    trainer = build_trainer(cfg, build_generator(cfg.model, cfg.data))
    return tf.function(trainer.train_step, jit_compile=cfg.train.jit_compile or None)


def time_steps(step, batch, steps: int) -> float:
    """Seconds per step (the step's outputs are fetched, so the work is done)."""
    start = time.perf_counter()
    for _ in range(steps):
        logs = step(batch)
    float(logs["loss"])
    return (time.perf_counter() - start) / steps


FLOOR_ROW = "FFTs alone"


def fft_floor_row(cfg: config_lib.Experiment):
    """(step, inputs): only the FFTs a whole-sequence MR-STFT training step cannot avoid.

    At every resolution: the forward FFT of the target's frames and of the
    prediction's frames, and the inverse FFT that carries the gradient back to
    the prediction's frames, on frames already cut and spectra already made
    (no framing, windowing, magnitudes, reductions or other elementwise work),
    XLA-compiled as the loss is. What any implementation built on this
    machine's FFT must spend at least, so spectral / MSE cannot fall below
    (MSE + this) / MSE.
    """
    from advaudio.objectives.spectral import stitched_segment_length

    resolutions = list(zip(*losses.stft_resolutions(losses.stft_options(cfg))))
    samples = stitched_segment_length(cfg)
    rng = np.random.default_rng(0)

    def real(*shape):
        return tf.constant(rng.normal(size=shape).astype(np.float32))

    inputs = []
    for fft_size, hop_length, win_length in resolutions:
        frames = cfg.data.batch_size * (1 + samples // hop_length)
        inputs.append((real(frames, win_length), real(frames, win_length),
                       tf.complex(real(frames, fft_size // 2 + 1), real(frames, fft_size // 2 + 1))))

    @tf.function(jit_compile=True)
    def step(inputs):
        # One element of each output is returned: enough that no FFT is skipped, no extra pass over them.
        picked = []
        for (fft_size, _, _), (target, pred, grad) in zip(resolutions, inputs):
            picked += [tf.math.real(tf.signal.rfft(target, [fft_size])[0, 0]),
                       tf.math.real(tf.signal.rfft(pred, [fft_size])[0, 0]),
                       tf.signal.irfft(grad, [fft_size])[0, 0]]
        return {"loss": tf.add_n(picked)}

    return step, tuple(inputs)


def benchmark_rows(rows: dict, overrides: list[str], rounds: int, steps: int, warmup: int) -> dict:
    """name -> list of seconds per step, one per round."""
    prepared = {}
    for name, (path, row_overrides) in rows.items():
        cfg = load_row(path, [*overrides, *row_overrides])
        batch = synthetic_batch(cfg)
        step = build_step(cfg)
        time_steps(step, batch, warmup)  # trace, compile, warm caches
        prepared[name] = (step, batch)
    if "spectral" in rows and not rows["spectral"][1]:
        step, inputs = fft_floor_row(load_row(rows["spectral"][0], overrides))
        time_steps(step, inputs, warmup)
        prepared[FLOOR_ROW] = (step, inputs)
    times = {name: [] for name in prepared}
    for _ in range(rounds):
        for name, (step, batch) in prepared.items():
            times[name].append(time_steps(step, batch, steps))
    return times


def naive_mr_stft(y_true, y_pred, fft_sizes, hop_lengths, win_lengths):
    """The straightforward version: centred zero-padded window frames of fft_size, no XLA, both signals framed."""
    total = 0.0
    for fft, hop, win in zip(fft_sizes, hop_lengths, win_lengths):
        window = tf.constant(spectrum.centred_window(fft, win))
        mags = []
        for audio in (y_true, y_pred):
            padded = tf.pad(audio, [[0, 0], [fft // 2, fft // 2]], mode="REFLECT")
            spectrum = tf.signal.stft(padded, fft, hop, fft, window_fn=lambda n, dtype: window)
            mags.append(tf.sqrt(tf.maximum(tf.abs(spectrum) ** 2, 1e-7)))
        target, pred = mags
        total += tf.norm(target - pred) / tf.norm(target) + tf.reduce_mean(tf.abs(tf.math.log(target) - tf.math.log(pred)))
    return total / len(fft_sizes)


def benchmark_loss_only(overrides: list[str], rounds: int, steps: int) -> dict:
    """Forward + backward of the MR-STFT loss alone on the default stitched segment."""
    from advaudio.objectives.base import LossContext

    cfg = load_row(ROWS["spectral"][0], overrides)
    inputs, targets = synthetic_batch(cfg)
    ctx = LossContext(inputs, targets, cfg)
    target_audio, pred_audio = ctx.target_audio, tf.Variable(ctx.pred_audio)
    options = losses.stft_options(cfg)
    res = losses.stft_resolutions(options)
    shipped = losses._compiled_components(tuple(sorted(options.items())), ("sc", "logmag"))

    def grad_fn(fn):
        @tf.function
        def run():
            with tf.GradientTape() as tape:
                value = fn()
            return value, tape.gradient(value, pred_audio)

        return run

    options_key = tuple(sorted(options.items()))
    variants = {
        "naive (tf.function)": grad_fn(lambda: naive_mr_stft(target_audio, pred_audio, *res)),
        "shipped, no XLA": grad_fn(lambda: tf.add_n(list(losses.multi_resolution_stft_components(target_audio, pred_audio, **options).values()))),
        "shipped (XLA)": grad_fn(lambda: tf.add_n(list(shipped(target_audio, pred_audio).values()))),
        "training path": grad_fn(lambda: tf.add_n(list(losses.weighted_stft_components(
            target_audio, pred_audio, options_key, ("sc", "logmag"), (1.0, 1.0)).values()))),
    }
    values = {name: float(fn()[0]) for name, fn in variants.items()}
    times = {name: [] for name in variants}
    for _ in range(rounds):
        for name, fn in variants.items():
            start = time.perf_counter()
            for _ in range(steps):
                value, grad = fn()
            grad.numpy()
            times[name].append((time.perf_counter() - start) / steps)
    print(f"MR-STFT loss alone, forward + backward, audio {tuple(pred_audio.shape)} "
          "(training path: value and gradient in one XLA program, as a training step computes them):")
    for name in variants:
        print(f"  {name:<22} {1000 * statistics.median(times[name]):9.1f} ms   value {values[name]:.6f}")
    return times


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", nargs="*", help=f"subset of {list(ROWS)} (default: all)")
    parser.add_argument("--all-experiments", action="store_true", help="one row per experiments/*.py file")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=3, help="steps per row per round")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--loss-only", action="store_true", help="time the MR-STFT loss variants alone")
    args = parser.parse_args(argv)
    if args.loss_only:
        benchmark_loss_only(args.overrides, args.rounds, args.steps)
        return 0
    rows = dict(ROWS)
    if args.all_experiments:
        for path in sorted((ROOT / "experiments").glob("*.py")):
            rows.setdefault(path.stem, (str(path.relative_to(ROOT)), []))
    if args.rows:
        unknown = [r for r in args.rows if r not in rows]
        if unknown:
            parser.error(f"unknown rows {unknown}; valid: {list(rows)}")
        rows = {name: rows[name] for name in [next(iter(ROWS)), *args.rows] if name in rows}
    times = benchmark_rows(rows, args.overrides, args.rounds, args.steps, args.warmup)
    baseline_name = next(iter(rows))
    baseline = statistics.median(times[baseline_name])
    cfg = load_row(rows[baseline_name][0], [*args.overrides, *rows[baseline_name][1]])
    print(
        f"one training step, default model: frames {cfg.data.frame_length}, sequence {cfg.data.sequence_length}, "
        f"batch {cfg.data.batch_size}, {cfg.model.layers} {cfg.model.cell.upper()} layers of {cfg.model.units}; "
        f"device {'GPU' if tf.config.list_physical_devices('GPU') else 'CPU'}; median of {args.rounds} rounds x {args.steps} steps"
    )
    print(f"{'objective':<18} {'ms/step':>10} {'x ' + baseline_name:>10}")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:<18} {1000 * median:10.1f} {median / baseline:10.2f}")
    if FLOOR_ROW in times:
        floor = statistics.median(times[FLOOR_ROW])
        print(
            f"{FLOOR_ROW}: the forward FFTs of target and prediction and the gradient's inverse FFT of the "
            f"whole-sequence MR-STFT, nothing else (fft_floor_row). No whole-sequence "
            f"spectral step on this machine's FFT can be faster than {baseline_name} + that: "
            f"{(baseline + floor) / baseline:.2f}x {baseline_name}."
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
