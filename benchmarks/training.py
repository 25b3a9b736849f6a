"""Training throughput of the default model against this machine's matmul throughput.

Prints, measured in one run: float32 matmul FLOP/s on the GRU's largest matmul
shape, both as numpy's BLAS and as TensorFlow (oneDNN) run it (the ceilings),
the FLOP/s and audio samples/s of advaudio's training loop (FrameTrainer +
training.Loop, MSE) on the default mse_baseline model, and of a plain Keras
`Model.fit` on the same GRU stack, each as a share of both ceilings, and
advaudio's speed relative to plain Keras (1.0 = no overhead of its own).

Run: python benchmarks/training.py [--steps 20]
"""
from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # run from a checkout

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from advaudio import config as C  # noqa: E402
from advaudio import training  # noqa: E402
from advaudio.models import build_generator  # noqa: E402
from advaudio.objectives import build_trainer  # noqa: E402


def model_flops_per_step(cfg: C.Experiment) -> float:
    """Matmul FLOPs of one training step (forward + backward ~ 3x forward)."""
    frame, units, batch, steps = cfg.data.frame_length, cfg.model.units, cfg.data.batch_size, cfg.data.sequence_length
    gates = 4 if cfg.model.cell == "lstm" else 3
    forward = 0
    width = frame
    for _ in range(cfg.model.layers):
        forward += 2 * (width * gates * units + units * gates * units)
        width = units
    head_in = units + ((frame + units * (cfg.model.layers - 1)) if cfg.model.skip_connections else 0)
    forward += 2 * head_in * frame
    return 3.0 * forward * batch * steps


def matmul_flops(cfg: C.Experiment, seconds: float = 3.0) -> float:
    """float32 FLOP/s of the GRU's largest matmul shape, [batch*steps, frame] x [frame, 3*units]."""
    rows = cfg.data.batch_size * cfg.data.sequence_length
    a = tf.random.normal((rows, cfg.data.frame_length))
    b = tf.random.normal((cfg.data.frame_length, 3 * cfg.model.units))
    mm = tf.function(lambda: tf.reduce_sum(tf.matmul(a, b)))
    mm()
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        mm().numpy()
        n += 1
    return n * 2 * rows * cfg.data.frame_length * 3 * cfg.model.units / (time.perf_counter() - start)


def numpy_matmul_flops(cfg: C.Experiment, seconds: float = 3.0) -> float:
    """The same matmul through numpy's BLAS."""
    rng = np.random.default_rng(0)
    rows = cfg.data.batch_size * cfg.data.sequence_length
    a = rng.standard_normal((rows, cfg.data.frame_length), dtype=np.float32)
    b = rng.standard_normal((cfg.data.frame_length, 3 * cfg.model.units), dtype=np.float32)
    a @ b
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        a @ b
        n += 1
    return n * 2 * rows * cfg.data.frame_length * 3 * cfg.model.units / (time.perf_counter() - start)


def batches(cfg):
    rng = np.random.default_rng(0)
    shape = (cfg.data.batch_size, cfg.data.sequence_length, cfg.data.frame_length)
    x = rng.standard_normal(shape).astype("float32")
    return tf.data.Dataset.from_tensors((x, x)).repeat()


def time_advaudio(cfg, steps: int) -> float:
    keras.utils.set_random_seed(0)
    trainer = build_trainer(cfg, build_generator(cfg.model, cfg.data))
    loop = training.Loop(trainer, tf.distribute.get_strategy())
    loop.fit(lambda e: batches(cfg), None, epochs=1, steps_per_epoch=3, verbose=0)  # trace + warm up
    start = time.perf_counter()
    loop.fit(lambda e: batches(cfg), None, epochs=1, steps_per_epoch=steps, verbose=0)
    return (time.perf_counter() - start) / steps


def time_plain_keras(cfg, steps: int) -> float:
    keras.utils.set_random_seed(0)
    model = build_generator(cfg.model, cfg.data)
    model.compile(optimizer=keras.optimizers.Adam(clipnorm=cfg.train.clipnorm), loss="mse")
    model.fit(batches(cfg), steps_per_epoch=3, epochs=1, verbose=0)
    start = time.perf_counter()
    model.fit(batches(cfg), steps_per_epoch=steps, epochs=1, verbose=0)
    return (time.perf_counter() - start) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()
    cfg = C.load_experiment(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "experiments", "mse_baseline.py"))[0]
    flops = model_flops_per_step(cfg)
    samples = cfg.data.batch_size * cfg.data.sequence_length * cfg.data.frame_length
    ceilings = {"numpy BLAS": numpy_matmul_flops(cfg), "TensorFlow": matmul_flops(cfg)}
    print(f"default model: {cfg.model.layers} x {cfg.model.cell.upper()} {cfg.model.units}, frames of "
          f"{cfg.data.frame_length}, sequences of {cfg.data.sequence_length}, batch {cfg.data.batch_size}; "
          f"{flops / 1e9:.1f} GFLOP per step; {os.cpu_count()} CPU cores")
    for name, ceiling in ceilings.items():
        print(f"float32 matmul ceiling ({name}): {ceiling / 1e9:.1f} GFLOP/s")
    times = {}
    for name, fn in (("plain Keras Model.fit", time_plain_keras), ("advaudio training loop", time_advaudio)):
        seconds = times[name] = fn(cfg, args.steps)
        shares = ", ".join(f"{flops / seconds / c:5.1%} of {n}" for n, c in ceilings.items())
        print(f"{name:24s} {seconds * 1e3:7.1f} ms/step  {samples / seconds / 1e6:6.2f} M audio samples/s  "
              f"{flops / seconds / 1e9:6.1f} GFLOP/s = {shares}")
    ratio = times["plain Keras Model.fit"] / times["advaudio training loop"]
    print(f"advaudio speed / plain Keras speed: {ratio:.2f}")


if __name__ == "__main__":
    main()
