"""The training loop: one path for every objective and every tf.distribute strategy.

`Model.fit` fails under MultiWorkerMirroredStrategy in Keras 3.15
(keras-team/keras#20585), so the loop runs `trainer.train_step` with
`strategy.run` itself, reduces every returned scalar with MEAN across replicas,
and drives ordinary Keras callbacks (progress bar included).
"""
from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Callable

import keras
import tensorflow as tf

from advaudio.registry import STRATEGIES


class NonFiniteError(RuntimeError):
    """A logged value became NaN or inf; the run stops before saving it."""


@STRATEGIES.register("default")
def _default_strategy(train_cfg):
    return tf.distribute.get_strategy()


@STRATEGIES.register("mirrored")
def _mirrored_strategy(train_cfg):
    """All local GPUs, or `train.cpu_replicas` logical CPU devices without one."""
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        return tf.distribute.MirroredStrategy()
    configure_cpu_replicas(train_cfg.cpu_replicas)
    devices = [d.name for d in tf.config.list_logical_devices("CPU")][: train_cfg.cpu_replicas]
    return tf.distribute.MirroredStrategy(devices=devices)


@STRATEGIES.register("multi_worker")
def _multi_worker_strategy(train_cfg):
    """One replica per worker listed in the TF_CONFIG environment variable."""
    if "TF_CONFIG" not in os.environ:
        raise ValueError(
            "train.distribute='multi_worker' reads the cluster from the TF_CONFIG environment variable, "
            'which is not set; e.g. TF_CONFIG=\'{"cluster": {"worker": ["host1:port", "host2:port"]}, '
            '"task": {"type": "worker", "index": 0}}\''
        )
    return tf.distribute.MultiWorkerMirroredStrategy()


def configure_cpu_replicas(count: int) -> None:
    """Splits the CPU into `count` logical devices; must run before TF initialises."""
    cpus = tf.config.list_physical_devices("CPU")
    current = tf.config.get_logical_device_configuration(cpus[0])
    if current is not None and len(current) >= count:
        return
    try:
        tf.config.set_logical_device_configuration(
            cpus[0], [tf.config.LogicalDeviceConfiguration() for _ in range(count)]
        )
    except RuntimeError as err:
        raise RuntimeError(
            "train.distribute='mirrored' on a CPU needs the logical devices configured before TensorFlow "
            "initialises; create the strategy (advaudio.training.make_strategy) before running any op"
        ) from err


def make_strategy(train_cfg) -> tf.distribute.Strategy:
    """The `tf.distribute` strategy named by `train.distribute`."""
    return STRATEGIES.build(train_cfg.distribute, train_cfg)


def prefetch_device(strategy: tf.distribute.Strategy) -> str | None:
    """"/GPU:0" when training runs on one GPU; None otherwise (CPU, or a strategy
    with several replicas, which prefetches to its own devices)."""
    if strategy.num_replicas_in_sync == 1 and tf.config.list_logical_devices("GPU"):
        return "/GPU:0"
    return None


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """True on the worker that writes logs and the shared checkpoint."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.cluster_spec().as_dict():
        return True
    task_type, task_id = resolver.task_type, resolver.task_id
    return task_type in (None, "chief") or (task_type == "worker" and task_id == 0 and "chief" not in resolver.cluster_spec().as_dict())


class TrainingState:
    """Everything `--resume` restores: networks, optimisers, the epoch counter.

    Saved with `tf.train.Checkpoint` under `directory` (the last `keep` kept).
    Under multi-worker training every worker saves (the save is collective);
    non-chief workers write to a scratch folder that is deleted.
    """

    def __init__(self, trainer, directory: Path, keep: int, chief: bool = True, task_id: int = 0):
        self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
        items = {f"net_{k}": v for k, v in trainer.networks().items()}
        # tf.train.Checkpoint does not follow Keras 3's lists of layers (FrameGRU.recurrent_layers, discriminator
        # stacks): without these explicit lists only directly attached layers (the head) would be saved, and the
        # rest (non-trainable weights included) would survive a resume only where an optimizer tracks them.
        items.update({f"weights_{k}": list(v.weights) for k, v in trainer.networks().items()})
        items.update({f"opt_{k}": v for k, v in trainer.optimizers().items()})
        self.checkpoint = tf.train.Checkpoint(epoch=self.epoch, **items)
        self.directory = Path(directory) if chief else Path(directory).parent / f"worker-{task_id}-scratch"
        self.chief = chief
        self.manager = tf.train.CheckpointManager(self.checkpoint, str(self.directory), max_to_keep=keep)

    def save(self, epochs_done: int) -> str:
        self.epoch.assign(epochs_done)
        path = self.manager.save(checkpoint_number=epochs_done)
        if not self.chief:
            tf.io.gfile.rmtree(str(self.directory))
        return path

    def restore_latest(self) -> int:
        """Restores the latest checkpoint; returns the number of completed epochs (0 if none)."""
        latest = self.manager.latest_checkpoint
        if latest is None:
            return 0
        self.checkpoint.restore(latest).assert_existing_objects_matched()
        return int(self.epoch.numpy())


def _reduce(strategy, values: dict) -> dict:
    return {k: strategy.reduce(tf.distribute.ReduceOp.MEAN, v, axis=None) for k, v in values.items()}


class Loop:
    """Runs a trainer's `train_step`/`test_step` under a strategy.

    Args:
        trainer: a `FrameTrainer` (created inside `strategy.scope()`).
        strategy: the `tf.distribute.Strategy`.
        jit_compile: compile the step with XLA.
    """

    def __init__(self, trainer, strategy, jit_compile: bool = False):
        self.trainer = trainer
        self.strategy = strategy

        # XLA compiles the step itself; the iterator and the cross-replica reduction stay outside it.
        train_step = tf.function(trainer.train_step, jit_compile=True) if jit_compile else trainer.train_step
        test_step = tf.function(trainer.test_step, jit_compile=True) if jit_compile else trainer.test_step

        def train_fn(iterator):
            return _reduce(strategy, strategy.run(train_step, args=(next(iterator),)))

        def test_fn(batch):
            return _reduce(strategy, strategy.run(test_step, args=(batch,)))

        self.train_fn = tf.function(train_fn, reduce_retracing=True)
        self.test_fn = tf.function(test_fn, reduce_retracing=True)

    def distribute(self, dataset):
        return self.strategy.experimental_distribute_dataset(dataset)

    def evaluate(self, dataset, steps: int | None) -> dict:
        """Mean of every test-step value over `steps` batches (or the whole dataset)."""
        totals: dict = {}
        count = 0
        for batch in self.distribute(dataset):
            if steps is not None and count >= steps:
                break
            for k, v in self.test_fn(batch).items():
                totals[k] = totals.get(k, 0.0) + float(v)
            count += 1
        if count == 0:
            raise ValueError(
                "the validation split yields no batch; lower data.batch_size or data.sequence_length, "
                "or give more validation audio (data.split)"
            )
        return {k: v / count for k, v in totals.items()}

    def fit(
        self,
        make_train_dataset: Callable[[int], tf.data.Dataset],
        valid_dataset: tf.data.Dataset | None,
        *,
        epochs: int,
        steps_per_epoch: int,
        validation_steps: int | None = None,
        initial_epoch: int = 0,
        callbacks: list | None = None,
        on_epoch_saved: Callable[[int, dict], None] | None = None,
        verbose: int = 1,
    ) -> list[dict]:
        """Trains from `initial_epoch` to `epochs`.

        Args:
            make_train_dataset: epoch -> repeated training dataset; a fresh,
                epoch-seeded dataset per epoch makes a resumed run replay
                exactly the batches the uninterrupted run would have seen.
            on_epoch_saved: called with (epoch, logs) after every epoch; it
                saves checkpoints, so a non-finite epoch never reaches it.
        Returns:
            The logs of every epoch run.
        Raises:
            NonFiniteError: a returned value was NaN or inf.
        """
        callback_list = keras.callbacks.CallbackList(
            callbacks or [],
            add_history=False,
            add_progbar=verbose > 0,
            model=self.trainer,
            verbose=verbose,
            epochs=epochs,
            steps=steps_per_epoch,
        )
        self.trainer.stop_training = False
        history = []
        callback_list.on_train_begin()
        for epoch in range(initial_epoch, epochs):
            callback_list.on_epoch_begin(epoch)
            iterator = iter(self.distribute(make_train_dataset(epoch)))
            sums: dict = {}
            for step in range(steps_per_epoch):
                callback_list.on_train_batch_begin(step)
                values = {k: float(v) for k, v in self.train_fn(iterator).items()}
                _check_finite(values, epoch, step)
                for k, v in values.items():
                    sums[k] = sums.get(k, 0.0) + v
                callback_list.on_train_batch_end(step, {k: v / (step + 1) for k, v in sums.items()})
            logs = {k: v / steps_per_epoch for k, v in sums.items()}
            if valid_dataset is not None:
                val = self.evaluate(valid_dataset, validation_steps)
                _check_finite(val, epoch, "validation")
                logs.update({f"val_{k}": v for k, v in val.items()})
            if on_epoch_saved is not None:
                on_epoch_saved(epoch, logs)
            callback_list.on_epoch_end(epoch, logs)
            history.append({"epoch": epoch, **logs})
            if self.trainer.stop_training:
                break
        callback_list.on_train_end()
        return history


def _check_finite(values: dict, epoch: int, step) -> None:
    bad = sorted(k for k, v in values.items() if not math.isfinite(v))
    if bad:
        raise NonFiniteError(
            f"non-finite {', '.join(repr(b) for b in bad)} at epoch {epoch + 1}, step {step}; "
            "the run stopped and kept its last good checkpoint. Try a lower train.learning_rate or "
            "train.clipnorm, or check the data for extreme values"
        )


def read_log_rows(path: Path) -> list[dict]:
    """Rows of a run's log.csv as dicts of floats (epoch as int); evaluation.report.read_log_columns gives columns."""
    import csv

    if not Path(path).exists():
        return []
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    return [{k: (int(v) if k == "epoch" else float(v)) for k, v in row.items() if v != ""} for row in rows]


def write_log(path: Path, rows: list[dict]) -> None:
    """Writes rows atomically; the header is the union of keys, epoch first."""
    import csv

    keys = ["epoch"] + sorted({k for row in rows for k in row if k != "epoch"})
    tmp = Path(str(path) + ".tmp")
    with open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=keys)
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, path)


def write_json(path: Path, data) -> None:
    tmp = Path(str(path) + ".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(tmp, path)
