"""`python -m advaudio.run EXPERIMENT.py`: experiment file -> overrides -> run folder -> train -> samples.

    python -m advaudio.run experiments/gan_denoise.py [--set a.b=value ...] [--out DIR] [--smoke]
    python -m advaudio.run --resume RUN_DIR [--set train.epochs=20]
"""
from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import sys
import tempfile
from pathlib import Path

OVERRIDES_FILE = "overrides.json"
REFERENCE_SECONDS = 60.0  # real audio per split kept in the run folder for evaluation


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m advaudio.run",
        description="Train a FrameGRU with the objective of an experiment file, then write audio samples.",
    )
    parser.add_argument("experiment", nargs="?", help="experiment file defining get_config()")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config value, e.g. --set train.epochs=3 (repeatable)")
    parser.add_argument("--out", default="runs", help="root folder of run folders (default: runs)")
    parser.add_argument("--resume", metavar="RUN_DIR", help="continue the run in RUN_DIR from its last checkpoint")
    parser.add_argument("--smoke", action="store_true", help="shrink the experiment so it runs in seconds")
    args = parser.parse_args(argv)
    if not args.experiment and not args.resume:
        parser.error("give an EXPERIMENT.py file, or --resume RUN_DIR")
    return args


def resolve_config(args):
    """The experiment config, the experiment source text, and the overrides applied, validated
    (`config.validate`) before any data is read or anything is written.

    Raises:
        ConfigError: one line per problem.
    """
    from advaudio import config as config_lib

    if args.resume:
        run_dir = Path(args.resume)
        saved = run_dir / OVERRIDES_FILE
        if not (run_dir / "experiment.py").exists() or not saved.exists():
            raise config_lib.ConfigError(
                f"{run_dir} is not a run folder (no experiment.py / {OVERRIDES_FILE}); "
                "pass the folder printed as 'run folder:' by the run you want to resume"
            )
        state = json.loads(saved.read_text())
        cfg, source = config_lib.load_experiment(run_dir / "experiment.py")
        cfg.name = state["name"]
        if state["smoke"]:
            config_lib.smoke(cfg)
        overrides = state["overrides"] + args.overrides
        try:
            return config_lib.validate(config_lib.apply_overrides(cfg, overrides)), source, overrides, state["smoke"]
        except config_lib.ConfigError as err:
            raise config_lib.ConfigError(
                f"{run_dir} cannot be resumed: its experiment (experiment.py with the overrides in "
                f"{OVERRIDES_FILE}{' and --set' if args.overrides else ''}) no longer validates:\n{err}"
            ) from None
    cfg, source = config_lib.load_experiment(args.experiment)
    if args.smoke:
        config_lib.smoke(cfg)
    return config_lib.validate(config_lib.apply_overrides(cfg, args.overrides)), source, list(args.overrides), args.smoke


def new_run_dir(root: Path, name: str) -> Path:
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    base = Path(root) / name / stamp
    run_dir, n = base, 0
    while run_dir.exists():
        n += 1
        run_dir = base.with_name(f"{stamp}-{n}")
    run_dir.mkdir(parents=True)
    return run_dir


def write_run_folder(run_dir: Path, cfg, source: str, overrides: list, smoke: bool, prepared) -> None:
    """The resolved config, the experiment copy, statistics, data description, reference audio."""
    import numpy as np
    import soundfile as sf

    from advaudio import config as config_lib
    from advaudio.training import write_json

    config_lib.save_json(cfg, run_dir / "config.json")
    (run_dir / "experiment.py").write_text(source)
    write_json(run_dir / OVERRIDES_FILE, {"name": cfg.name, "overrides": overrides, "smoke": smoke})
    prepared.stats.save(run_dir / "stats.json")
    write_json(run_dir / "data.json", prepared.description)
    reference = run_dir / "reference"
    reference.mkdir(exist_ok=True)
    limit = int(REFERENCE_SECONDS * prepared.sample_rate)
    for split in ("train", "valid", "test"):
        audio = prepared.stats.denormalize(getattr(prepared, split).signal[:limit])
        sf.write(reference / f"{split}.wav", np.clip(audio, -1.0, 1.0), prepared.sample_rate, subtype="PCM_16")


@contextlib.contextmanager
def native_stderr_captured():
    """Captures what native code writes to file descriptor 2 (TensorFlow's start-up notes: absl's
    pre-initialisation warning, CUDA probing) and replays it only if the block raises, so that a
    config error is the only output of a run that stops before any work."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(saved, 2)
            captured.seek(0)
            sys.stderr.write(captured.read().decode(errors="replace"))
            raise
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)


def import_builtins() -> None:
    """Imports TensorFlow and every registry's built-in entries (what `config.validate` looks up)."""
    from advaudio import registry

    for value in vars(registry).values():
        if isinstance(value, registry.Registry):
            value.names()


def main(argv=None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from advaudio import config as config_lib

    with native_stderr_captured():
        import_builtins()
    try:
        cfg, source, overrides, smoke = resolve_config(args)
        if cfg.generate.revision != "none":  # the revision pass: a source run's data and model, smoke sizes
            from advaudio import revision

            cfg = revision.resolve(cfg, overrides, smoke)
    except config_lib.ConfigError as err:
        for line in str(err).splitlines():
            print(f"error: {line}", file=sys.stderr)
        return 2

    import keras

    from advaudio import data as data_lib
    from advaudio import training

    try:
        strategy = training.make_strategy(cfg.train)  # before any other TF op (logical CPU devices)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    replicas = strategy.num_replicas_in_sync
    if cfg.data.batch_size % replicas:
        print(f"error: data.batch_size={cfg.data.batch_size} must be a multiple of the {replicas} replicas of "
              f"train.distribute={cfg.train.distribute!r}", file=sys.stderr)
        return 2
    keras.utils.set_random_seed(cfg.train.seed)
    device = training.prefetch_device(strategy)
    try:
        prepared = data_lib.prepare(cfg.data)

        def make_train_dataset(epoch: int):
            # A fresh permutation per epoch, seeded by the epoch: a resumed run sees the same batches.
            return data_lib.make_dataset(
                prepared.train, cfg.data, shuffle=True, seed=cfg.train.seed + epoch, repeat=True, device=device
            )

        make_train_dataset(0)  # fails now, not mid-run, when a split is too short for one batch
        valid_dataset = data_lib.make_dataset(
            prepared.valid, cfg.data, shuffle=False, seed=cfg.train.seed, repeat=False
        )
    except data_lib.DataError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2

    chief = training.is_chief(strategy)
    if args.resume:
        run_dir = Path(args.resume)
        if chief:
            config_lib.save_json(cfg, run_dir / "config.json")
            training.write_json(run_dir / OVERRIDES_FILE, {"name": cfg.name, "overrides": overrides, "smoke": smoke})
    else:
        run_dir = new_run_dir(Path(args.out), cfg.name) if chief else Path(args.out) / f".worker-{os.getpid()}"
        run_dir.mkdir(parents=True, exist_ok=True)
        if chief:
            write_run_folder(run_dir, cfg, source, overrides, smoke, prepared)
    print(f"run folder: {run_dir}", flush=True)

    try:
        if cfg.revise.from_run is None:
            history = train(cfg, strategy, prepared, (make_train_dataset, valid_dataset), run_dir,
                            resume=bool(args.resume), chief=chief)
        else:  # the generator is the finished run's (advaudio/revision.py)
            history = revision.adopt_generator(cfg, run_dir) if chief else []
        if chief and history is not None and cfg.generate.revision != "none":
            revision.train_for_run(cfg, strategy, prepared, run_dir, resume=bool(args.resume))
    except training.NonFiniteError as err:
        print(f"\nerror: {err}", file=sys.stderr)
        return 1
    if chief and history is not None:
        write_samples(cfg, run_dir, prepared)
    return 0


def train(cfg, strategy, prepared, datasets, run_dir: Path, *, resume: bool, chief: bool):
    """Builds the trainer under the strategy and trains it, writing the run folder as it goes.

    Args:
        datasets: (epoch -> training dataset, validation dataset).
    """
    import tensorflow as tf

    from advaudio import checkpoints
    from advaudio import data as data_lib
    from advaudio import training
    from advaudio.curves import plot_training_curves
    from advaudio.models import build_generator
    from advaudio.objectives import build_trainer

    with strategy.scope():
        generator = build_generator(cfg.model, cfg.data)
        trainer = build_trainer(cfg, generator)
    resolver = getattr(strategy, "cluster_resolver", None)
    task_id = getattr(resolver, "task_id", 0) or 0
    state = training.TrainingState(
        trainer, run_dir / "checkpoints" / "state", cfg.train.keep_checkpoints, chief=chief, task_id=task_id
    )
    initial_epoch = state.restore_latest() if resume else 0
    if resume and initial_epoch >= cfg.train.epochs:
        print(f"{run_dir} already finished {initial_epoch} epochs; raise train.epochs with --set to go on")
        return []
    log_path = run_dir / "log.csv"
    rows = [row for row in training.read_log_rows(log_path) if row["epoch"] < initial_epoch]
    writer = tf.summary.create_file_writer(str(run_dir / "tensorboard")) if chief else None

    steps = cfg.train.steps_per_epoch or data_lib.num_examples(prepared.train, cfg.data) // cfg.data.batch_size

    make_train_dataset, valid_dataset = datasets
    from advaudio.evaluation import generation_check

    check = generation_check.GenerationCheck(cfg, prepared) if chief and generation_check.enabled(cfg) else None

    def on_epoch_saved(epoch: int, logs: dict) -> None:
        step = int(trainer.step_counter.numpy())
        if chief:
            if check is not None:
                logs.update(check.run(generator))  # gen/* columns: a few seconds generated and scored
            rows.append({"epoch": epoch, **logs})
            training.write_log(log_path, rows)
            plot_training_curves(rows, run_dir / "curves.png")
            with writer.as_default(step=epoch + 1):
                for key, value in logs.items():
                    tf.summary.scalar(key, value)
                write_tensorboard_audio(cfg, generator, prepared, epoch + 1)
            writer.flush()
            checkpoints.save_generator_checkpoint(
                run_dir, generator, epoch=epoch + 1, step=step,
                val_loss=logs.get("val_loss", logs["loss"]), keep_last=cfg.train.keep_checkpoints,
                eligible=trainer.counts_for_best(), best_by=cfg.train.best_by, score=logs.get(cfg.train.best_by),
            )
        state.save(epoch + 1)  # last: a run killed before this replays the epoch

    if resume:
        print(f"resuming at epoch {initial_epoch + 1} of {cfg.train.epochs} (step {int(trainer.step_counter.numpy())})")
    loop = training.Loop(trainer, strategy, jit_compile=cfg.train.jit_compile)
    return loop.fit(
        make_train_dataset,
        valid_dataset,
        epochs=cfg.train.epochs,
        steps_per_epoch=steps,
        validation_steps=cfg.train.validation_steps,
        initial_epoch=initial_epoch,
        on_epoch_saved=on_epoch_saved,
    )


TENSORBOARD_AUDIO_SECONDS = 2.0


def write_tensorboard_audio(cfg, generator, prepared, epoch: int) -> None:
    """A short generated excerpt in TensorBoard, seeded from validation audio, to hear progress."""
    import numpy as np
    import tensorflow as tf

    from advaudio import synthesis
    from advaudio.config import frame_hop

    gen, hop, frame_length = cfg.generate, frame_hop(cfg.data), cfg.data.frame_length
    span = synthesis.seed_span(gen.seed_frames, frame_length, hop)
    positions = synthesis.choose_seed_positions(len(prepared.valid.signal), 1, span, gen.sample_seed)
    seed = synthesis.seed_frames_at(prepared.valid.signal, positions, gen.seed_frames, frame_length, hop)
    seconds = min(TENSORBOARD_AUDIO_SECONDS, gen.seconds)
    audio = synthesis.generate(
        generator, seed, num_samples=int(seconds * prepared.sample_rate), frame_hop=hop, stitch_method=gen.stitch,
        window=gen.window, crossfade_length=gen.crossfade_length, dither=gen.dither, feedback=gen.feedback,
        seed=gen.sample_seed,
    )
    audio = np.clip(prepared.stats.denormalize(audio), -1.0, 1.0)
    tf.summary.audio("generated", audio[..., None], sample_rate=prepared.sample_rate, step=epoch)


def write_samples(cfg, run_dir: Path, prepared) -> None:
    """The end-of-run samples, from the best checkpoint, through advaudio.synthesis."""
    from advaudio import checkpoints, synthesis

    generator, info = checkpoints.load_generator(run_dir, "best")
    held_out = {"valid": prepared.valid.signal, "test": prepared.test.signal}
    paths = synthesis.generate_for_run(run_dir, cfg, generator, seed_signal=held_out, checkpoint_info=info)
    for path in paths:
        print(f"wrote {path}")


if __name__ == "__main__":
    sys.exit(main())
