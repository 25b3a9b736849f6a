"""The training loop: strategies match single-device training, NaN stops, state round trip."""
import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from advaudio import config as C
from advaudio import training
from advaudio.models import build_generator
from advaudio.objectives import build_trainer

ROOT = Path(__file__).resolve().parents[1]

TINY = dict(frame_length=8, sequence_length=3, batch_size=4, units=4, steps=3, epochs=2)

# One script, three uses: default strategy, mirrored on 2 logical CPUs, one worker of two. In float64: the
# set-ups sum gradients in different orders (per replica, then across replicas), which in float32 differs by
# rounding that training amplifies; in float64 the rounding is ~1e-16, so the tolerance below stays tight.
SCRIPT = textwrap.dedent(
    """
    import json, os, sys
    import numpy as np
    import tensorflow as tf
    import keras
    from advaudio import config as C, training
    from advaudio.models import build_generator
    from advaudio.objectives import build_trainer

    kind, out = sys.argv[1], sys.argv[2]
    stochastic = len(sys.argv) > 3 and sys.argv[3] == "stochastic"
    keras.config.set_floatx("float64")
    keras.config.set_dtype_policy("float64")
    cfg = C.Experiment()
    cfg.data.frame_length, cfg.data.sequence_length, cfg.data.batch_size = {frame_length}, {sequence_length}, {batch_size}
    cfg.model.units = {units}
    if stochastic:  # fresh noise per frame, on the model's own rollouts: each example must get its own draws
        cfg.model.noise_dim = 3
        cfg.objective.regime, cfg.objective.free_run_prefix, cfg.objective.free_run_steps = "free_running", 1, 2
    cfg.train.clipnorm = 0.05  # small enough to clip: clipping must see the global gradient
    cfg.train.distribute = "mirrored" if kind == "mirrored_both" else kind
    strategy = training.make_strategy(cfg.train)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, {sequence_length}, {frame_length}))  # float64
    y = np.roll(x, -1, axis=1) * 0.5

    def make(epoch):
        return tf.data.Dataset.from_tensor_slices((x, y)).shuffle(64, seed=epoch).repeat().batch({batch_size}, drop_remainder=True)

    valid = tf.data.Dataset.from_tensor_slices((x[:8], y[:8])).batch({batch_size}, drop_remainder=True)
    results = {{}}
    strategies = [("default", tf.distribute.get_strategy()), ("mirrored", strategy)] if kind == "mirrored_both" else [(kind, strategy)]
    for name, strat in strategies:
        keras.utils.set_random_seed(0)
        with strat.scope():
            gen = build_generator(cfg.model, cfg.data)
            trainer = build_trainer(cfg, gen)
        history = training.Loop(trainer, strat).fit(make, valid, epochs={epochs}, steps_per_epoch={steps}, verbose=0)
        results[name] = {{"history": history, "weights": [np.asarray(w).tolist() for w in gen.get_weights()],
                          "dtypes": sorted({{str(np.asarray(w).dtype) for w in gen.get_weights()}}),
                          "replicas": strat.num_replicas_in_sync}}
    if training.is_chief(strategy):
        with open(out, "w") as f:
            json.dump(results, f)
    """
).format(**TINY)


def _run_script(tmp_path, kind, env_extra=None, out_name="out.json", variant="deterministic"):
    script = tmp_path / "train_script.py"
    script.write_text(SCRIPT)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": ""}
    env.update(env_extra or {})
    return subprocess.Popen([sys.executable, str(script), kind, str(tmp_path / out_name), variant], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


# float64 rounding (2**-53 ~ 1.1e-16) accumulated over a few hundred operations per step and 6 steps stays far
# below this; float32 rounding (2**-24 ~ 6e-8) alone would not.
RTOL, ATOL = 1e-10, 1e-12


def _assert_same_training(a, b):
    assert a["dtypes"] == b["dtypes"] == ["float64"]
    assert len(a["history"]) == len(b["history"]) == TINY["epochs"]
    for ra, rb in zip(a["history"], b["history"]):
        assert ra.keys() == rb.keys()
        for key in ra:
            assert ra[key] == pytest.approx(rb[key], rel=RTOL, abs=ATOL), key
    for wa, wb in zip(a["weights"], b["weights"]):
        np.testing.assert_allclose(wa, wb, rtol=RTOL, atol=ATOL)


@pytest.fixture(scope="module")
def default_and_mirrored(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("mirrored")
    proc = _run_script(tmp, "mirrored_both")
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, out
    return json.loads((tmp / "out.json").read_text())


@pytest.mark.slow
def test_mirrored_on_two_cpus_matches_single_device(default_and_mirrored):
    assert default_and_mirrored["mirrored"]["replicas"] == 2
    assert default_and_mirrored["default"]["replicas"] == 1
    _assert_same_training(default_and_mirrored["default"], default_and_mirrored["mirrored"])
    # the model did learn: it is not a trivially equal pair of untrained runs
    history = default_and_mirrored["default"]["history"]
    assert history[-1]["loss"] < history[0]["loss"]


@pytest.mark.slow
def test_mirrored_stochastic_generator_matches_single_device(tmp_path):
    """model.noise_dim > 0, free running: the noise of each example is the same whichever replica trains it,
    so two replicas train exactly as one device (a per-replica draw would give both halves of a batch the
    same noise, or noise that depends on the replica count)."""
    proc = _run_script(tmp_path, "mirrored_both", variant="stochastic")
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, out
    result = json.loads((tmp_path / "out.json").read_text())
    assert result["mirrored"]["replicas"] == 2
    _assert_same_training(result["default"], result["mirrored"])
    history = result["default"]["history"]
    assert history[-1]["loss"] < history[0]["loss"]


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_multi_worker_two_local_processes_match_single_device(tmp_path, default_and_mirrored):
    workers = [f"127.0.0.1:{_free_port()}", f"127.0.0.1:{_free_port()}"]
    procs = []
    for index in range(2):
        tf_config = {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
        procs.append(_run_script(tmp_path, "multi_worker", {"TF_CONFIG": json.dumps(tf_config)}, f"out{index}.json"))
    outputs = [p.communicate(timeout=300)[0] for p in procs]
    for p, out in zip(procs, outputs):
        assert p.returncode == 0, out
    assert not (tmp_path / "out1.json").exists()  # only the chief writes
    result = json.loads((tmp_path / "out0.json").read_text())["multi_worker"]
    assert result["replicas"] == 2
    _assert_same_training(default_and_mirrored["default"], result)


def test_multi_worker_without_tf_config_says_how_to_fix(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ValueError, match="TF_CONFIG"):
        training.make_strategy(C.Train(distribute="multi_worker"))
    with pytest.raises(KeyError, match="mirrored"):
        training.make_strategy(C.Train(distribute="mirored"))


def _tiny_trainer():
    cfg = C.Experiment()
    cfg.data.frame_length, cfg.model.units = 8, 4
    gen = build_generator(cfg.model, cfg.data)
    return build_trainer(cfg, gen), cfg


def _dataset(x, y):
    return lambda epoch: tf.data.Dataset.from_tensor_slices((x, y)).repeat().batch(2)


@pytest.mark.slow
def test_non_finite_loss_stops_before_saving():
    trainer, _ = _tiny_trainer()
    x = np.ones((4, 3, 8), "float32")
    x[1, 0, 0] = np.nan
    saved = []
    with pytest.raises(training.NonFiniteError, match="non-finite 'grad_norm/gen', 'loss', 'rec/mse' at epoch 1"):
        training.Loop(trainer, tf.distribute.get_strategy()).fit(
            _dataset(x, x), None, epochs=2, steps_per_epoch=2, verbose=0,
            on_epoch_saved=lambda epoch, logs: saved.append(epoch))
    assert saved == []


@pytest.mark.slow
def test_training_state_round_trip_restores_optimizer_exactly(tmp_path):
    trainer, _ = _tiny_trainer()
    x = np.random.default_rng(1).standard_normal((4, 3, 8)).astype("float32")
    loop = training.Loop(trainer, tf.distribute.get_strategy())
    loop.fit(_dataset(x, x * 0.5), None, epochs=1, steps_per_epoch=3, verbose=0)
    state = training.TrainingState(trainer, tmp_path / "state", keep=2)
    state.save(1)
    fresh, _ = _tiny_trainer()
    restored = training.TrainingState(fresh, tmp_path / "state", keep=2)
    assert restored.restore_latest() == 1
    assert int(fresh.step_counter.numpy()) == 3
    for a, b in zip(trainer.generator_optimizer.variables, fresh.generator_optimizer.variables):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    for a, b in zip(trainer.generator.weights, fresh.generator.weights):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_training_state_saves_every_weight_without_an_optimizer(tmp_path):
    """Every weight of every network is in the checkpoint itself, not only where an optimizer tracks it."""
    trainer, _ = _tiny_trainer()  # never trained: its optimizer tracks no variables yet
    state = training.TrainingState(trainer, tmp_path / "state", keep=2)
    state.save(1)
    saved = {name for name, _ in tf.train.list_variables(str(state.manager.latest_checkpoint))}
    assert sum("weights_generator" in name for name in saved) == len(trainer.generator.weights)
    fresh, _ = _tiny_trainer()
    for w in fresh.generator.weights:  # differ from the saved values everywhere
        w.assign(np.asarray(w) + 1.0)
    assert training.TrainingState(fresh, tmp_path / "state", keep=2).restore_latest() == 1
    for a, b in zip(trainer.generator.weights, fresh.generator.weights):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_log_round_trip_and_truncation(tmp_path):
    rows = [{"epoch": 0, "loss": 2.0, "val_loss": 2.5}, {"epoch": 1, "loss": 1.0, "val_loss": 1.5, "spec/sc": 0.1}]
    training.write_log(tmp_path / "log.csv", rows)
    back = training.read_log_rows(tmp_path / "log.csv")
    assert back == rows


@pytest.mark.slow
def test_xla_compiled_step_matches_plain_step(float64):
    x = np.random.default_rng(2).standard_normal((8, 3, 8))  # float64
    histories, weights = [], []
    for jit in (False, True):
        keras.utils.set_random_seed(0)
        trainer, _ = _tiny_trainer()
        histories.append(training.Loop(trainer, tf.distribute.get_strategy(), jit_compile=jit).fit(
            _dataset(x, x * 0.5), None, epochs=2, steps_per_epoch=2, verbose=0))
        weights.append(trainer.generator.get_weights())
    assert all(w.dtype == np.float64 for w in weights[1])
    for plain, xla in zip(*histories):
        for key in plain:
            assert plain[key] == pytest.approx(xla[key], rel=1e-10, abs=1e-12), key
    for a, b in zip(*weights):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_prefetch_device_only_for_a_single_gpu(monkeypatch):
    strategy = tf.distribute.get_strategy()
    assert training.prefetch_device(strategy) is None  # the suite hides GPUs (conftest)
    monkeypatch.setattr(tf.config, "list_logical_devices", lambda kind=None: ["gpu0"] if kind == "GPU" else [])
    assert training.prefetch_device(strategy) == "/GPU:0"

    class TwoReplicas:
        num_replicas_in_sync = 2

    assert training.prefetch_device(TwoReplicas()) is None  # multi-device strategies prefetch themselves
