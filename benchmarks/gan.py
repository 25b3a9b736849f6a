"""Cost of one gan_denoise training step per discriminator family, relative to MSE, in one run.

Rows: the MSE baseline, the spectral objective on whole sequences
(experiments/spectral.py) and on gan_denoise's random 4-frame segments
("spectral_segments": gan_denoise's reconstruction terms without the
adversarial part), every GAN experiment file, gan_denoise with MSE instead of
MR-STFT reconstruction ("+mse_rec": the cost of the adversarial part alone,
on top of the MSE step) and gan_denoise with its MR-STFT on whole sequences
("+whole_rec"). Each GAN
row is timed with its discriminator switched on (`d_start_step=0`), i.e. the
full two-network step; during the warm-up the step costs about the spectral
row. The step is `trainer.train_step` under `tf.function`, as the training
loop runs it, on a synthetic batch of the experiment's shape; rows are timed
in interleaved rounds (so load on a shared machine hits them alike) and the
figure is the median over rounds. Goal: gan_denoise <= 3x MSE.

Run: python benchmarks/gan.py
     python benchmarks/gan.py --rows gan_denoise gan_multi_period --rounds 5
     python benchmarks/gan.py --set data.batch_size=4          # overrides apply to every row
"""
from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import tensorflow as tf  # noqa: E402

from advaudio import config as config_lib  # noqa: E402
from objectives import build_step, synthetic_batch, time_steps  # noqa: E402  (benchmarks/objectives.py)

BASELINE = ("mse", "experiments/mse_baseline.py")
WHOLE_SPECTRAL = ("spectral", "experiments/spectral.py", [])
SEGMENTS = "objective.stft={'segment_frames': 4}"  # as experiments/gan_denoise.py
RECONSTRUCTION = ("spectral_segments", "experiments/spectral.py", [SEGMENTS])
GAN_ROWS = {
    "gan_denoise": "experiments/gan_denoise.py",
    "gan_no_flux": "experiments/gan_no_flux.py",
    "gan_flatness": "experiments/gan_flatness.py",
    "gan_bin_levels": "experiments/gan_bin_levels.py",
    "gan_input_noise": "experiments/gan_input_noise.py",
    "gan_teacher_forced": "experiments/gan_teacher_forced.py",
    "gan_free_running": "experiments/gan_free_running.py",
    "gan_frame_mlp": "experiments/gan_frame_mlp.py",
    "gan_multi_period": "experiments/gan_multi_period.py",
    "gan_spectrogram": "experiments/gan_spectrogram.py",
    "custom_discriminator": "experiments/custom_discriminator.py",
}
# gan_denoise with its MR-STFT terms swapped for rec/mse: isolates what the adversarial part costs.
MSE_RECONSTRUCTION = (
    "gan_denoise+mse_rec",
    "experiments/gan_denoise.py",
    ["objective.loss_weights={'rec/mse': 1.0, 'adv/gen': 1.0, 'adv/feat': 2.0}"],
)
# gan_denoise with its MR-STFT on whole sequences: what the segments save.
WHOLE_RECONSTRUCTION = ("gan_denoise+whole_rec", "experiments/gan_denoise.py", ["objective.stft={'segment_frames': None}"])


def load_row(path: str, overrides: list[str]) -> config_lib.Experiment:
    cfg, _ = config_lib.load_experiment(ROOT / path)
    cfg = config_lib.apply_overrides(cfg, overrides)
    cfg.objective.adversarial.d_start_step = 0  # time the full two-network step
    return cfg


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", nargs="*", help=f"subset of {list(GAN_ROWS)} (default: all)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=2, help="steps per row per round")
    parser.add_argument("--warmup", type=int, default=1)
    args = parser.parse_args(argv)
    unknown = sorted(set(args.rows or []) - set(GAN_ROWS))
    if unknown:
        parser.error(f"unknown rows {unknown}; valid: {list(GAN_ROWS)}")
    rows = {BASELINE[0]: (BASELINE[1], []), WHOLE_SPECTRAL[0]: WHOLE_SPECTRAL[1:], RECONSTRUCTION[0]: RECONSTRUCTION[1:]}
    rows.update({name: (GAN_ROWS[name], []) for name in (args.rows or GAN_ROWS)})
    if not args.rows or "gan_denoise" in args.rows:
        rows[MSE_RECONSTRUCTION[0]] = MSE_RECONSTRUCTION[1:]
        rows[WHOLE_RECONSTRUCTION[0]] = WHOLE_RECONSTRUCTION[1:]

    prepared = {}
    for name, (path, row_overrides) in rows.items():
        cfg = load_row(path, [*args.overrides, *row_overrides])
        step = build_step(cfg)
        batch = synthetic_batch(cfg)
        time_steps(step, batch, args.warmup)  # trace, compile, warm caches
        prepared[name] = (step, batch, cfg)
    times = {name: [] for name in rows}
    for _ in range(args.rounds):
        for name, (step, batch, _) in prepared.items():
            times[name].append(time_steps(step, batch, args.steps))

    cfg = prepared[BASELINE[0]][2]
    device = "GPU" if tf.config.list_physical_devices("GPU") else "CPU"
    print(
        f"one training step, default model: frames {cfg.data.frame_length}, sequence {cfg.data.sequence_length}, "
        f"batch {cfg.data.batch_size}, {cfg.model.layers} {cfg.model.cell.upper()} layers of {cfg.model.units}; "
        f"device {device}; median of {args.rounds} rounds x {args.steps} steps; GAN rows with D on"
    )
    mse, spectral = (statistics.median(times[n]) for n in (BASELINE[0], RECONSTRUCTION[0]))
    print(f"{'row':<22} {'discriminator':<22} {'ms/step':>9} {'x mse':>7} {'x spectral_segments':>20}")
    for name, values in times.items():
        median = statistics.median(values)
        adv = prepared[name][2].objective.adversarial
        family = "-" if prepared[name][2].objective.name != "gan_denoise" else (
            adv.discriminator if isinstance(adv.discriminator, str) else getattr(adv.discriminator, "__name__", "callable")
        )
        print(f"{name:<22} {family:<22} {1000 * median:9.1f} {median / mse:7.2f} {median / spectral:20.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
