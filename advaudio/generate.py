"""Command line: generate audio from a trained run folder (the library is advaudio/synthesis.py).

Run: python -m advaudio.generate RUN_DIR [--seconds 30] [--count 4] [--stitch overlap_add]
     [--seed-from valid|test|FILE] [--checkpoint best|last|EPOCH] [--out DIR]
     [--set generate.KEY=VALUE ...]     e.g. --set generate.dither=0.05 --set generate.feedback=raw
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

PROGRESS_UPDATES = 20  # compiled chunks per run, i.e. progress-bar updates


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m advaudio.generate",
        description="Generate audio from a trained run folder (writes RUN_DIR/samples by default).",
    )
    parser.add_argument("run_dir", type=Path, help="a run folder runs/<experiment>/<timestamp>")
    parser.add_argument("--seconds", type=float, default=None, help="seconds per sample (default: generate.seconds)")
    parser.add_argument("--count", type=int, default=None, help="number of samples (default: generate.count)")
    parser.add_argument("--stitch", default=None, help="auto, concat, overlap_add or crossfade (default: generate.stitch)")
    parser.add_argument("--seed-from", default=None, help="valid, test or an audio file (default: generate.seed_from)")
    parser.add_argument("--checkpoint", default="best", help="best, last or an epoch number (default: best)")
    parser.add_argument("--out", type=Path, default=None, help="output folder (default: RUN_DIR/samples)")
    parser.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="generate.KEY=VALUE",
        help="change a generate.* option of the run's config for this call (dither, feedback, window, "
        "crossfade_length, loudness, subtype, format, sample_seed, ...); repeatable",
    )
    return parser.parse_args(argv)


def main(argv=None) -> list[Path]:
    args = parse_args(argv)
    # Heavy imports after argument parsing so --help is instant.
    import keras

    from advaudio import config as config_lib
    from advaudio.checkpoints import load_generator
    from advaudio.synthesis import generate_for_run
    from advaudio.stitching import frames_needed, resolve_method

    run_dir = args.run_dir
    if not (run_dir / "config.json").is_file():
        sys.exit(f"{run_dir} is not a run folder (no config.json)")
    experiment = config_lib.load_json(run_dir / "config.json")
    others = [o for o in args.overrides if not o.split("=", 1)[0].strip().startswith("generate.")]
    if others:
        sys.exit(f"error: --set changes only generate.* options of a trained run, got {others}; "
                 "other keys are fixed by training (start a new run with python -m advaudio.run --set ...)")
    # revise.from_run names the run a revision pass was trained over; its generator was copied into this folder,
    # so it is history, not an input of generation (and that folder may have moved since).
    experiment.revise.from_run = None
    try:
        experiment = config_lib.validate(config_lib.apply_overrides(experiment, args.overrides))
    except ValueError as err:  # ConfigError included: name the key and the fix, no traceback
        sys.exit(f"error: --set: {err}")
    try:
        generator, info = load_generator(run_dir, args.checkpoint)
    except (FileNotFoundError, ValueError) as err:
        sys.exit(str(err))

    gen, data = experiment.generate, experiment.data
    hop = config_lib.frame_hop(data)
    try:
        method = resolve_method(args.stitch or gen.stitch, data.frame_length, hop)
    except KeyError as err:
        sys.exit(f"error: --stitch: {err.args[0]}")
    seconds = gen.seconds if args.seconds is None else args.seconds
    if seconds <= 0 or (args.count is not None and args.count < 1):
        sys.exit("error: --seconds must be > 0 and --count >= 1")
    total = frames_needed(method, max(1, round(seconds * data.sample_rate)), data.frame_length, hop, gen.crossfade_length)
    chunk = max(1, -(-total // PROGRESS_UPDATES))
    bar = keras.utils.Progbar(total, unit_name="frame")
    print(f"generating from {info['path']} (epoch {info['epoch']}, step {info['step']})")
    try:
        paths = generate_for_run(
            run_dir, experiment, generator, checkpoint_info=info, out_dir=args.out, seconds=args.seconds,
            count=args.count, stitch=args.stitch, seed_from=args.seed_from,
            progress=lambda done, _total: bar.update(done), chunk_frames=chunk,
        )
    except (ValueError, KeyError, FileNotFoundError) as err:  # bad options or seed: say how to fix, no traceback
        sys.exit(f"error: {err}")
    for path in paths:
        print(path)
    return paths


if __name__ == "__main__":
    main()
