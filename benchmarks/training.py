"""Training speed of the default model: advaudio's fused recurrence against plain Keras, in one run.

Prints, measured in interleaved rounds (each round times every row once, so
load on a shared machine hits all rows alike; figures are medians over
rounds, as wall-clock and as process CPU time):
  - the float32 matmul ceiling (TensorFlow, the model's largest product
    `[batch * steps, frame_length] x [frame_length, 3 * units]`), timed in
    every round too;
  - plain Keras `Model.fit` on the same model built from Keras layers
    (`keras.Sequential` of `keras.layers.GRU` and `Dense`; Keras' default
    `jit_compile="auto"`, which is XLA on a CPU, and `jit_compile=False`), and advaudio's
    training loop (FrameTrainer + training.Loop, MSE) on the default
    mse_baseline model: ms/step, audio samples/s, GFLOP/s and the share of the
    ceiling, and the speed ratio (goal >= 1.8x; share goal >= 60%); and the
    same loop with `keras.optimizers.Adam` in place of its FusedAdam;
    and the same loop with its recurrence loops XLA-compiled
    (`models.RECURRENCE_JIT`, off by default);
  - the recurrence variants behind that choice (one forward, backward and
    Adam step each): Keras' layers, the fused input projection with the
    hand-written backward loop in graph mode (the batch's rows in
    `models.ROW_GROUPS` groups, and in one group), with TensorFlow's autodiff of
    the loop, with `tf.scan`, and with the hand-written loops XLA-compiled;
  - the free-running training step of experiments/gan_free_running.py's
    unroll (true prefix, then `free_run_steps` frames on the model's own
    predictions; forward, backward, Adam): today's code (Keras layers,
    step-by-step feedback) against the fused recurrence with and without the
    folded feedback, the rollout starting from the prefix's last prediction
    or, as the trainer does, from its last head input (goal >= 1.5x).

Run: python benchmarks/training.py [--rounds 7] [--steps 3] [--rows fit variants free_run]
"""
from __future__ import annotations

import argparse
import copy
import os
import statistics
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")  # a CPU benchmark
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)  # run from a checkout

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from advaudio import config as C  # noqa: E402
from advaudio import models, training  # noqa: E402
from advaudio.models import build_generator  # noqa: E402
from advaudio.objectives import build_trainer  # noqa: E402
from advaudio.objectives.base import free_run  # noqa: E402
from advaudio.optimizers import FusedAdam  # noqa: E402

GOALS = {"fit": 1.8, "share": 0.60, "free_run": 1.5}


def cpu_description() -> str:
    """lscpu's model name and whether the CPU has AVX-512 (matmul speed differs ~3x)."""
    try:
        text = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        text = ""
    name = next((line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("Model name")), "?")
    try:
        flags = open("/proc/cpuinfo").read()
    except OSError:
        flags = text
    avx512 = "avx512f" in flags
    return f"{name}; AVX-512: {'yes' if avx512 else 'no'}; {os.cpu_count()} CPU cores"


def model_flops_per_step(cfg: C.Experiment, steps: int | None = None) -> float:
    """Matmul FLOPs of one training step (forward + backward ~ 3x forward)."""
    frame, units, batch = cfg.data.frame_length, cfg.model.units, cfg.data.batch_size
    steps = cfg.data.sequence_length if steps is None else steps
    gates = 4 if cfg.model.cell == "lstm" else 3
    forward = 0
    width = frame
    for _ in range(cfg.model.layers):
        forward += 2 * (width * gates * units + units * gates * units)
        width = units
    head_in = units + ((frame + units * (cfg.model.layers - 1)) if cfg.model.skip_connections else 0)
    forward += 2 * head_in * frame
    return 3.0 * forward * batch * steps


class Timer:
    """Median wall-clock and process-CPU seconds per call of several rows, in interleaved rounds."""

    def __init__(self):
        self.wall: dict[str, list[float]] = {}
        self.cpu: dict[str, list[float]] = {}

    def time(self, name: str, fn, calls: int = 1) -> None:
        wall, cpu = time.perf_counter(), time.process_time()
        fn()
        self.wall.setdefault(name, []).append((time.perf_counter() - wall) / calls)
        self.cpu.setdefault(name, []).append((time.process_time() - cpu) / calls)

    def median(self, name: str, cpu: bool = False) -> float:
        return statistics.median((self.cpu if cpu else self.wall)[name])

    def best(self, name: str) -> float:
        """The fastest round (wall): the least disturbed by other load."""
        return min(self.wall[name])

    def spread(self, name: str) -> str:
        values = self.wall[name]
        return f"{min(values) * 1e3:.0f}-{max(values) * 1e3:.0f}"


# --------------------------------------------------------------------------- rows


def batches(cfg):
    rng = np.random.default_rng(0)
    shape = (cfg.data.batch_size, cfg.data.sequence_length, cfg.data.frame_length)
    x = rng.standard_normal(shape).astype("float32")
    return tf.data.Dataset.from_tensors((x, x)).repeat()


def matmul_row(cfg):
    rows = cfg.data.batch_size * cfg.data.sequence_length
    a = tf.random.normal((rows, cfg.data.frame_length))
    b = tf.random.normal((cfg.data.frame_length, 3 * cfg.model.units))
    mm = tf.function(lambda: tf.reduce_sum(tf.matmul(a, b)))
    repeats = 5

    def run():
        for _ in range(repeats):
            mm().numpy()

    run()
    return run, repeats, 2.0 * rows * cfg.data.frame_length * 3 * cfg.model.units


def plain_keras_model(cfg) -> keras.Model:
    """The default model built from Keras layers alone (what a Keras user writes)."""
    cells = {"gru": keras.layers.GRU, "lstm": keras.layers.LSTM}
    layers = [keras.Input((None, cfg.data.frame_length))]
    layers += [cells[cfg.model.cell](cfg.model.units, return_sequences=True) for _ in range(cfg.model.layers)]
    layers += [keras.layers.Dense(cfg.data.frame_length)]
    return keras.Sequential(layers)


def keras_fit_row(cfg, steps: int, jit_compile="auto"):
    """`Model.fit` as a Keras user runs it. Keras' default `jit_compile="auto"` XLA-compiles the step on a
    CPU (its GRU layers declare themselves XLA-compatible when no GPU is visible); `jit_compile=False` is
    the same fit in graph mode, measured beside it so that the baseline's compile mode is not a choice
    hidden in the ratio."""
    keras.utils.set_random_seed(0)
    model = plain_keras_model(cfg)
    model.compile(optimizer=keras.optimizers.Adam(clipnorm=cfg.train.clipnorm), loss="mse", jit_compile=jit_compile)
    model.fit(batches(cfg), steps_per_epoch=3, epochs=1, verbose=0)  # trace + warm up
    return lambda: model.fit(batches(cfg), steps_per_epoch=steps, epochs=1, verbose=0)


def advaudio_row(cfg, steps: int, keras_adam: bool = False, recurrence_jit: bool = False):
    """advaudio's training loop; `keras_adam`: with `keras.optimizers.Adam` in place of the trainer's
    `FusedAdam` (the same arithmetic, five element-wise ops per weight instead of one fused kernel);
    `recurrence_jit`: `models.RECURRENCE_JIT` while the step is traced."""
    keras.utils.set_random_seed(0)
    trainer = build_trainer(cfg, build_generator(cfg.model, cfg.data))
    if keras_adam:
        trainer.generator_optimizer = keras.optimizers.Adam(
            learning_rate=cfg.train.learning_rate, beta_1=cfg.train.beta_1, beta_2=cfg.train.beta_2)
        trainer.generator_optimizer.build(trainer.generator.trainable_variables)
    loop = training.Loop(trainer, tf.distribute.get_strategy())
    saved, models.RECURRENCE_JIT = models.RECURRENCE_JIT, recurrence_jit
    try:
        loop.fit(lambda e: batches(cfg), None, epochs=1, steps_per_epoch=3, verbose=0)  # trace + warm up
    finally:
        models.RECURRENCE_JIT = saved
    return lambda: loop.fit(lambda e: batches(cfg), None, epochs=1, steps_per_epoch=steps, verbose=0)


def scan_recurrence(cell, projections, states):
    """`models.recurrence` as `tf.scan` over `models.cell_from_projections` (autodiff)."""
    kernel = tf.convert_to_tensor(cell.recurrent_kernel)

    def fn(carry, projection):
        _, new = models.cell_from_projections(cell, projection, tf.matmul(carry[0], kernel), list(carry))
        return tuple(new)

    out = tf.scan(fn, tf.transpose(projections, [1, 0, 2]), initializer=tuple(states))
    return tf.transpose(out[0], [1, 0, 2]), [o[-1] for o in out]


def variant_row(cfg, variant: str):
    """One forward + backward + Adam step (a `tf.function`) of the default model under a recurrence variant.

    The variant is chosen while tracing (module switches in advaudio.models), so
    each row keeps its own compiled step.
    """
    keras.utils.set_random_seed(0)
    model = build_generator(cfg.model, cfg.data)
    model.recurrence = "keras" if variant == "Keras layers" else "fused"
    optimizer = keras.optimizers.Adam()
    optimizer.build(model.trainable_variables)
    x = tf.constant(np.random.default_rng(0).standard_normal(
        (cfg.data.batch_size, cfg.data.sequence_length, cfg.data.frame_length)).astype("float32"))

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(model(x, training=True) - x))
        optimizer.apply(tape.gradient(loss, model.trainable_variables), model.trainable_variables)
        return loss

    saved = (models.recurrence, models._has_default_activations, models.RECURRENCE_JIT, models.ROW_GROUPS)
    try:
        if variant == "fused, hand BPTT, rows in one group":
            models.ROW_GROUPS = 1
        elif variant == "fused, autodiff loop":
            models._has_default_activations = lambda cell: False
        elif variant == "fused, tf.scan":
            models.recurrence = scan_recurrence
        elif variant == "fused, XLA loops":
            models.RECURRENCE_JIT = True
        step().numpy()  # trace with the variant in place
    finally:
        models.recurrence, models._has_default_activations, models.RECURRENCE_JIT, models.ROW_GROUPS = saved
    step().numpy()
    return lambda: step().numpy()


VARIANTS = ("Keras layers", "fused, hand BPTT (default)", "fused, hand BPTT, rows in one group", "fused, autodiff loop",
            "fused, tf.scan", "fused, XLA loops")


def free_run_row(cfg, recurrence: str, fold, from_features: bool, fused_adam: bool = False):
    """experiments/gan_free_running.py's generator unroll: prefix, free run, MSE on the rollout; one Adam step.

    from_features: the rollout starts from the prefix's last head input, as the trainer's
    (`FrameTrainer.free_running_frames`), else from the prefix's last prediction (the previous code).
    """
    keras.utils.set_random_seed(0)
    model = build_generator(cfg.model, cfg.data)
    model.recurrence = recurrence
    optimizer = FusedAdam() if fused_adam else keras.optimizers.Adam()
    optimizer.build(model.trainable_variables)
    prefix, steps = cfg.objective.free_run_prefix, cfg.objective.free_run_steps
    x = tf.constant(np.random.default_rng(0).standard_normal(
        (cfg.data.batch_size, prefix + steps, cfg.data.frame_length)).astype("float32"))

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            if from_features:
                features, states = model.features_with_states(x[:, :prefix], training=True)
                rollout = free_run(model, None, states, steps, fold=fold, first_features=features[:, -1])
            else:
                prefix_preds, states = model.call_with_states(x[:, :prefix], training=True)
                rollout = free_run(model, prefix_preds[:, -1], states, steps, fold=fold)
            loss = tf.reduce_mean(tf.square(rollout - x[:, prefix:]))
        optimizer.apply(tape.gradient(loss, model.trainable_variables), model.trainable_variables)
        return loss

    step().numpy()
    step().numpy()
    return lambda: step().numpy()


FREE_RUN_ROWS = {  # name: (recurrence, fold, from_features, fused_adam)
    "today: Keras layers, step-by-step feedback": ("keras", False, False, False),
    "fused, step-by-step feedback": ("fused", False, True, False),
    "fused, folded, from the prefix's prediction": ("fused", None, False, False),
    "fused, folded, from the prefix's head input": ("fused", None, True, False),
    "the same + FusedAdam (default: the trainer's path)": ("fused", None, True, True),
}


# --------------------------------------------------------------------------- main


def show_ratio(timer, name: str, base: str, base_label: str, goal: str = "") -> float:
    """Prints `name`'s speed relative to `base` (wall-clock and CPU-time medians); returns the wall ratio."""
    wall = timer.median(base) / timer.median(name)
    print(f"{'':58s} x {base_label}: {wall:.2f} wall, "
          f"{timer.median(base, True) / timer.median(name, True):.2f} CPU time{goal}")
    return wall


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds; figures are medians")
    parser.add_argument("--steps", type=int, default=3, help="training steps per fit call in each round")
    parser.add_argument("--rows", nargs="+", default=["fit", "variants", "free_run"],
                        choices=["fit", "variants", "free_run"])
    parser.add_argument("--free-run-steps", type=int, nargs="+", default=None,
                        help="free_run_steps values for the free-running rows (default: the experiment's)")
    args = parser.parse_args(argv)

    cfg = C.load_experiment(os.path.join(ROOT, "experiments", "mse_baseline.py"))[0]
    free_cfg = C.load_experiment(os.path.join(ROOT, "experiments", "gan_free_running.py"))[0]
    flops = model_flops_per_step(cfg)
    samples = cfg.data.batch_size * cfg.data.sequence_length * cfg.data.frame_length
    print(f"CPU: {cpu_description()}; load average {os.getloadavg()[0]:.1f} at start")
    print(f"default model: {cfg.model.layers} x {cfg.model.cell.upper()} {cfg.model.units}, frames of "
          f"{cfg.data.frame_length}, sequences of {cfg.data.sequence_length}, batch {cfg.data.batch_size}; "
          f"{flops / 1e9:.1f} GFLOP per step (forward + backward ~ 3x forward)")

    timer = Timer()
    rows = {}
    matmul, matmul_calls, matmul_flops = matmul_row(cfg)
    rows["matmul"] = (matmul, matmul_calls)
    if "fit" in args.rows:
        rows["plain Keras Model.fit"] = (keras_fit_row(cfg, args.steps), args.steps)
        rows["plain Keras Model.fit, jit_compile=False"] = (keras_fit_row(cfg, args.steps, jit_compile=False), args.steps)
        rows["advaudio training loop"] = (advaudio_row(cfg, args.steps), args.steps)
        rows["advaudio training loop, Keras' Adam"] = (advaudio_row(cfg, args.steps, keras_adam=True), args.steps)
        rows["advaudio training loop, XLA loops"] = (advaudio_row(cfg, args.steps, recurrence_jit=True), args.steps)
    if "variants" in args.rows:
        for variant in VARIANTS:
            rows[f"variant: {variant}"] = (variant_row(cfg, variant), 1)
    free_run_steps = args.free_run_steps or [free_cfg.objective.free_run_steps]
    if "free_run" in args.rows:
        for steps in free_run_steps:
            run_cfg = C.apply_overrides(copy.deepcopy(free_cfg), [f"objective.free_run_steps={steps}"])
            for name, row in FREE_RUN_ROWS.items():
                rows[f"free run {steps}: {name}"] = (free_run_row(run_cfg, *row), 1)
    for _ in range(args.rounds):
        for name, (fn, calls) in rows.items():
            timer.time(name, fn, calls)

    results = {"cpu": cpu_description(), "load_average_end": os.getloadavg()[0]}
    # The ceiling is the fastest round (a ceiling is what the machine can do); shares compare it with
    # the fastest round of each row, and, less sensitive to load, CPU time with CPU time.
    ceiling = matmul_flops / timer.best("matmul")
    ceiling_cpu = matmul_flops / timer.median("matmul", cpu=True)
    results["ceiling_gflops"] = ceiling / 1e9
    print(f"\nfloat32 matmul ceiling (TensorFlow, [{cfg.data.batch_size * cfg.data.sequence_length}, "
          f"{cfg.data.frame_length}] x [{cfg.data.frame_length}, {3 * cfg.model.units}]): {ceiling / 1e9:.1f} GFLOP/s "
          f"(fastest round; median {matmul_flops / timer.median('matmul') / 1e9:.1f}; "
          f"{ceiling_cpu / 1e9:.1f} per CPU-second)")
    print(f"\n{'row':58s} {'ms/step':>8s} {'(range)':>11s} {'CPU ms':>7s}")

    def show(name):
        print(f"{name:58s} {timer.median(name) * 1e3:8.1f} {timer.spread(name):>11s} {timer.median(name, True) * 1e3:7.1f}")

    if "fit" in args.rows:
        for name in ("plain Keras Model.fit", "advaudio training loop"):
            show(name)
            seconds = timer.median(name)
            print(f"{'':58s} {samples / seconds / 1e6:6.2f} M audio samples/s, {flops / seconds / 1e9:6.1f} GFLOP/s; "
                  f"fastest round {flops / timer.best(name) / ceiling:5.1%} of the ceiling's fastest (CPU time: "
                  f"{flops / timer.median(name, True) / ceiling_cpu:5.1%})")
        ratio = timer.median("plain Keras Model.fit") / timer.median("advaudio training loop")
        ratio_cpu = timer.median("plain Keras Model.fit", True) / timer.median("advaudio training loop", True)
        share = flops / timer.best("advaudio training loop") / ceiling
        share_cpu = flops / timer.median("advaudio training loop", True) / ceiling_cpu
        results.update(fit_ratio=ratio, fit_ratio_cpu=ratio_cpu, share=share)
        print(f"advaudio speed / plain Keras Model.fit speed: {ratio:.2f}x wall, {ratio_cpu:.2f}x CPU time "
              f"(goal >= {GOALS['fit']}x); share of the ceiling {share:.1%} fastest rounds, {share_cpu:.1%} CPU time "
              f"(goal >= {GOALS['share']:.0%})")
        best_ratio = timer.best("plain Keras Model.fit") / timer.best("advaudio training loop")
        print(f"{'':58s} fastest rounds against fastest rounds: {best_ratio:.2f}x")
        name = "plain Keras Model.fit, jit_compile=False"
        show(name)
        ratio_no_xla = timer.median(name) / timer.median("advaudio training loop")
        print(f"{'':58s} advaudio / this row: {ratio_no_xla:.2f}x wall, "
              f"{timer.median(name, True) / timer.median('advaudio training loop', True):.2f}x CPU time, "
              f"{timer.best(name) / timer.best('advaudio training loop'):.2f}x fastest rounds; Keras' default (XLA) "
              f"is {timer.median(name) / timer.median('plain Keras Model.fit'):.2f}x as fast as this row")
        results["fit_ratio_no_xla"] = ratio_no_xla
        results["fit_ratio_best"] = best_ratio
        name = "advaudio training loop, Keras' Adam"
        show(name)
        gain = timer.median(name) / timer.median("advaudio training loop")
        print(f"{'':58s} FusedAdam's gain: the loop is {gain:.2f}x as fast as with Keras' Adam (wall), "
              f"{timer.median(name, True) / timer.median('advaudio training loop', True):.2f}x (CPU time)")
        results["fused_adam_gain"] = gain
        name = "advaudio training loop, XLA loops"
        show(name)
        gain = timer.median("advaudio training loop") / timer.median(name)
        print(f"{'':58s} with the recurrence loops XLA-compiled (models.RECURRENCE_JIT) the loop is {gain:.2f}x as fast "
              f"(wall), {timer.median('advaudio training loop', True) / timer.median(name, True):.2f}x (CPU time)")
        results["recurrence_jit_gain"] = gain
    if "variants" in args.rows:
        print("\nrecurrence variants (forward + backward + Adam step of the default model):")
        base = "variant: Keras layers"
        for variant in VARIANTS:
            name = f"variant: {variant}"
            show(name)
            results[name] = show_ratio(timer, name, base, "Keras layers")
    if "free_run" in args.rows:
        for steps in free_run_steps:
            print(f"\nfree-running training step (gan_free_running's unroll: prefix {free_cfg.objective.free_run_prefix}, "
                  f"{steps} free-run frames, batch {free_cfg.data.batch_size}):")
            base = f"free run {steps}: today: Keras layers, step-by-step feedback"
            for row in FREE_RUN_ROWS:
                name = f"free run {steps}: {row}"
                show(name)
                results[name] = show_ratio(timer, name, base, "today", f" (goal >= {GOALS['free_run']}x)")
    print(f"\nload average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (a shared machine "
          "lowers and spreads the wall-clock figures; CPU-time ratios are less sensitive to it)")
    return results


if __name__ == "__main__":
    main()
