"""FrameGRU: step function equals the sequence call, save/load, gate bias, cuDNN defaults."""
import keras
import numpy as np
import pytest

from advaudio import config as C
from advaudio.models import FrameGRU, build_generator

FRAME = 12


@pytest.fixture(scope="module")
def frames():
    return np.random.default_rng(0).standard_normal((3, 6, FRAME)).astype("float32")


@pytest.mark.parametrize("cell, skip", [("gru", False), ("gru", True), ("lstm", False), ("lstm", True)])
@pytest.mark.slow
def test_step_matches_sequence_call(frames, cell, skip):
    model = FrameGRU(frame_length=FRAME, units=5, layers=2, cell=cell, skip_connections=skip, gate_bias=0.5)
    full = np.asarray(model(frames))
    assert full.shape == frames.shape
    states = model.initial_states(3)
    for t in range(frames.shape[1]):
        pred, states = model.step(frames[:, t], states)
        np.testing.assert_allclose(np.asarray(pred), full[:, t], atol=1e-5)
    _, final = model.call_with_states(frames)
    for a, b in zip(states, final):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-5)


def test_call_with_states_continues_a_sequence(frames):
    model = FrameGRU(frame_length=FRAME, units=4, layers=2)
    whole = np.asarray(model(frames))
    first, states = model.call_with_states(frames[:, :3])
    second, _ = model.call_with_states(frames[:, 3:], initial_states=states)
    np.testing.assert_allclose(np.concatenate([first, second], axis=1), whole, atol=1e-5)


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_save_load_round_trip(tmp_path, frames, cell):
    model = FrameGRU(frame_length=FRAME, units=4, layers=2, cell=cell, skip_connections=True, gate_bias=1.0)
    expected = np.asarray(model(frames))
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert isinstance(loaded, FrameGRU) and loaded.get_config()["cell"] == cell
    np.testing.assert_allclose(np.asarray(loaded(frames)), expected, atol=1e-6)
    assert FrameGRU.from_config(model.get_config()).get_config() == model.get_config()


def test_skip_connections_feed_input_and_every_layer_to_head():
    model = FrameGRU(frame_length=FRAME, units=4, layers=3, skip_connections=True)
    model.build((None, None, FRAME))
    assert model.head.kernel.shape == (FRAME + 3 * 4, FRAME)
    plain = FrameGRU(frame_length=FRAME, units=4, layers=3)
    plain.build((None, None, FRAME))
    assert plain.head.kernel.shape == (4, FRAME)


def test_gate_bias_lands_on_update_and_forget_gates():
    gru = FrameGRU(frame_length=FRAME, units=4, layers=1, gate_bias=2.0)
    gru.build((None, None, FRAME))
    bias = np.asarray(gru.recurrent_layers[0].cell.bias)  # [2, 3 * units]: z, r, h
    np.testing.assert_array_equal(bias[0, :4], 2.0)
    np.testing.assert_array_equal(bias[0, 4:], 0.0)
    np.testing.assert_array_equal(bias[1], 0.0)
    lstm = FrameGRU(frame_length=FRAME, units=4, layers=1, cell="lstm", gate_bias=1.0)
    lstm.build((None, None, FRAME))
    bias = np.asarray(lstm.recurrent_layers[0].cell.bias)  # [4 * units]: i, f, c, o
    np.testing.assert_array_equal(bias[4:8], 1.0)
    np.testing.assert_array_equal(np.delete(bias, np.s_[4:8]), 0.0)


def test_defaults_keep_cudnn_eligible():
    model = build_generator(C.Model(), C.Data(frame_length=40))
    for layer in model.recurrent_layers:
        cell = layer.cell
        assert cell.activation is keras.activations.tanh
        assert cell.recurrent_activation is keras.activations.sigmoid
        assert cell.recurrent_dropout == 0 and cell.reset_after and not layer.unroll
        assert layer.use_cudnn == "auto"


def test_bad_arguments():
    with pytest.raises(ValueError, match="model.cell"):
        FrameGRU(frame_length=4, cell="rnn")
    with pytest.raises(ValueError, match=">= 1"):
        FrameGRU(frame_length=4, layers=0)


# --------------------------------------------------------------------------- fused recurrence

import tensorflow as tf  # noqa: E402

from advaudio import models  # noqa: E402

HEAD_CHECKPOINTS = __import__("pathlib").Path(__file__).parent / "data" / "head_checkpoints"


def _pair(cell, layers, skip=False, frame=6, units=5):
    """A Keras-layer model and a fused one with the same non-trivial weights."""
    keras.utils.set_random_seed(0)
    plain = FrameGRU(frame, units, layers, cell=cell, skip_connections=skip, gate_bias=0.3, recurrence="keras")
    fused = FrameGRU(frame, units, layers, cell=cell, skip_connections=skip, gate_bias=0.3, recurrence="fused")
    for model in (plain, fused):
        model.build((None, None, frame))
    for i, v in enumerate(plain.weights):
        v.assign(np.random.default_rng(i).normal(scale=0.5, size=v.shape))
    fused.set_weights(plain.get_weights())
    return plain, fused


def _outputs_and_gradients(model, x, init, graph=False):
    def run():
        with tf.GradientTape() as tape:
            tape.watch(init)
            y, states = model.call_with_states(x, initial_states=init)
            loss = tf.reduce_sum(tf.sin(y)) + tf.add_n([tf.reduce_sum(tf.cos(s)) for s in states])
        return y, states, tape.gradient(loss, model.trainable_variables + init)

    return tf.function(run)() if graph else run()


@pytest.mark.parametrize("cell", ["gru", "lstm"])
@pytest.mark.parametrize("layers,skip", [(1, False), (2, True), (3, False)])
@pytest.mark.parametrize("mode", ["eager", "graph", "xla"])  # xla: the optional compiled loops (RECURRENCE_JIT)
@pytest.mark.slow
def test_fused_recurrence_equals_keras_layers_in_float64(float64, monkeypatch, cell, layers, skip, mode):
    monkeypatch.setattr(models, "RECURRENCE_JIT", mode == "xla")
    graph = mode != "eager"
    plain, fused = _pair(cell, layers, skip)
    rng = np.random.default_rng(1)
    x = tf.constant(rng.normal(size=(3, 7, 6)))
    init = [tf.constant(rng.normal(size=(3, 5))) for _ in range(layers * plain.states_per_layer)]
    expected, got = _outputs_and_gradients(plain, x, init), _outputs_and_gradients(fused, x, init, graph)
    for a, b in zip(tf.nest.flatten(expected), tf.nest.flatten(got)):
        assert b.dtype == tf.float64
        np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-12, atol=1e-12)


def test_recurrence_loops_compile_only_outside_cond_branches(monkeypatch):
    """RECURRENCE_JIT compiles the loops traced in a graph, not eagerly and not inside a `tf.cond` branch."""
    monkeypatch.setattr(models, "RECURRENCE_JIT", True)
    seen = {}

    @tf.function
    def traced(x):
        seen["graph"] = models.recurrence_jit()

        def branch():
            seen["cond"] = models.recurrence_jit()
            return x

        return tf.cond(x > 0, branch, lambda: -x)

    traced(tf.constant(1.0))
    assert seen == {"graph": True, "cond": False}
    assert not models.recurrence_jit()  # eager


@pytest.mark.parametrize("regime", ["teacher_forcing", "scheduled_sampling"])
@pytest.mark.slow
def test_a_traced_training_step_with_compiled_loops_equals_graph_mode(float64, monkeypatch, regime):
    """The compiled loops in a traced training step: teacher forcing uses them; scheduled sampling's `tf.cond`
    (which TensorFlow 2.21 cannot differentiate through a compiled function) falls back and still trains."""
    from advaudio import config as config_lib
    from advaudio.objectives import build_trainer

    cfg = config_lib.Experiment()
    cfg.data.frame_length, cfg.data.sequence_length, cfg.data.batch_size = 8, 5, 2
    cfg.model.units, cfg.objective.regime = 4, regime
    cfg.objective.sampling_probability, cfg.objective.sampling_schedule = 0.0, "constant"
    frames = np.random.default_rng(3).normal(size=(2, 6, 8))
    batch = (tf.constant(frames[:, :-1]), tf.constant(frames[:, 1:]))
    keras.utils.set_random_seed(0)
    weights = models.build_generator(cfg.model, cfg.data).get_weights()
    results = {}
    for jit in (False, True):
        monkeypatch.setattr(models, "RECURRENCE_JIT", jit)
        monkeypatch.setattr(models, "_COMPILED", {})
        generator = models.build_generator(cfg.model, cfg.data)
        generator.set_weights(weights)
        trainer = build_trainer(cfg, generator)
        logs = tf.function(trainer.train_step)(batch)
        results[jit] = float(logs["loss"]), generator.get_weights(), set(models._COMPILED)
    assert results[False][2] == set()
    assert results[True][2] == ({models._gru_forward, models._gru_backward} if regime == "teacher_forcing" else set())
    assert results[True][0] == pytest.approx(results[False][0], rel=1e-12)
    for a, b in zip(results[False][1], results[True][1]):
        np.testing.assert_allclose(b, a, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("cell", ["gru", "lstm"])
@pytest.mark.slow
def test_row_groups_change_nothing_whatever_the_batch(float64, monkeypatch, cell):
    """The recurrence's rows in 1, 2 or 5 groups: the same outputs, states and gradients, also with a
    batch unknown when traced (then a group may have no rows) and with fewer rows than groups."""
    _, fused = _pair(cell, 2)
    rng = np.random.default_rng(4)
    inputs = {batch: (tf.constant(rng.normal(size=(batch, 7, 6))),
                      [tf.constant(rng.normal(size=(batch, 5))) for _ in range(2 * fused.states_per_layer)])
              for batch in (1, 3)}
    results = {}
    for groups in (1, 2, 5):
        monkeypatch.setattr(models, "ROW_GROUPS", groups)

        @tf.function(input_signature=[tf.TensorSpec([None, None, 6], tf.float64)]
                     + [tf.TensorSpec([None, 5], tf.float64)] * len(inputs[1][1]))
        def dynamic(x, *init):
            return _outputs_and_gradients(fused, x, list(init))

        results[groups] = [_outputs_and_gradients(fused, *inputs[3], graph=True)]
        results[groups] += [dynamic(x, *init) for x, init in inputs.values()]
    for groups, got in results.items():
        for expected, value in zip(results[1], got):
            for a, b in zip(tf.nest.flatten(expected), tf.nest.flatten(value)):
                np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-12, atol=1e-12, err_msg=f"{groups} groups")


@pytest.mark.parametrize("cell", ["gru", "lstm"])
@pytest.mark.slow
def test_fused_recurrence_float32_within_accumulation_error(cell):
    plain, fused = _pair(cell, 2, frame=FRAME, units=8)
    x = tf.constant(np.random.default_rng(2).normal(size=(3, 6, FRAME)).astype("float32"))
    init = [tf.zeros((3, 8))] * (2 * plain.states_per_layer)
    expected, got = _outputs_and_gradients(plain, x, init), _outputs_and_gradients(fused, x, init, graph=True)
    # Both sum the same products in different orders: each dot product of n terms may differ by
    # ~n * eps * sum|terms|, and the recurrence carries that through every step (values are O(1)).
    n = FRAME + 8
    bound = n * x.shape[1] * np.finfo(np.float32).eps
    for a, b in zip(tf.nest.flatten(expected), tf.nest.flatten(got)):
        scale = max(1.0, float(np.abs(a.numpy()).max()))
        np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=0, atol=bound * scale)


def test_the_gpu_check_picks_keras_layers(frames, monkeypatch):
    """With a GPU visible, "auto" runs Keras' own layers (cuDNN); without, the fused path."""
    calls = {"fused": 0, "keras": 0}
    fused_recurrence = models.time_major_recurrence
    keras_call = keras.layers.GRU.call

    def spy_fused(*args):
        calls["fused"] += 1
        return fused_recurrence(*args)

    def spy_keras(self, *args, **kwargs):
        calls["keras"] += 1
        return keras_call(self, *args, **kwargs)

    monkeypatch.setattr(models, "time_major_recurrence", spy_fused)
    monkeypatch.setattr(keras.layers.GRU, "call", spy_keras)
    model = FrameGRU(frame_length=FRAME, units=4, layers=2)
    monkeypatch.setattr(models, "gpu_visible", lambda: True)
    assert not model.uses_fused_recurrence()
    on_gpu = np.asarray(model(frames))
    assert calls == {"fused": 0, "keras": 2}
    monkeypatch.setattr(models, "gpu_visible", lambda: False)
    assert model.uses_fused_recurrence()
    on_cpu = np.asarray(model(frames))
    assert calls == {"fused": 2, "keras": 2}
    np.testing.assert_allclose(on_cpu, on_gpu, atol=1e-5)
    assert FrameGRU(frame_length=FRAME, recurrence="keras").uses_fused_recurrence() is False
    with pytest.raises(ValueError, match="recurrence"):
        FrameGRU(frame_length=FRAME, recurrence="cudnn")


def test_gpu_visible_asks_tensorflow(monkeypatch):
    monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind=None: ["gpu0"] if kind == "GPU" else [])
    assert models.gpu_visible()
    monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind=None: [])
    assert not models.gpu_visible()


@pytest.mark.parametrize("cell", ["gru", "lstm"])
@pytest.mark.parametrize("fmt", ["weights.h5", "keras"])  # run folders' generator checkpoints; saved models
@pytest.mark.slow
def test_checkpoints_saved_before_the_fused_path_load_unchanged(cell, fmt):
    """tests/data/head_checkpoints was written by the Keras-layer code (commit 25f36c9, make.py there)."""
    expected = np.load(HEAD_CHECKPOINTS / "expected.npz")
    if fmt == "keras":
        model = keras.models.load_model(HEAD_CHECKPOINTS / f"{cell}.keras")
        assert model.noise_dim == 0 and model.recurrence == "auto"
    else:
        model = FrameGRU(frame_length=12, units=4, layers=2, cell=cell, name="frame_gru")
        model.build((None, None, 12))
        model.load_weights(HEAD_CHECKPOINTS / f"{cell}.weights.h5")
    assert model.uses_fused_recurrence()
    preds, states = model.call_with_states(expected["frames"])
    np.testing.assert_allclose(preds.numpy(), expected[f"{cell}_preds"], rtol=1e-5, atol=1e-6)
    for i, state in enumerate(states):
        np.testing.assert_allclose(state.numpy(), expected[f"{cell}_state{i}"], rtol=1e-5, atol=1e-6)


def test_weights_keep_the_keras_layout_and_names():
    model = FrameGRU(frame_length=FRAME, units=4, layers=2, recurrence="fused")
    model.build((None, None, FRAME))
    names = [v.path.split("/", 1)[1] for v in model.weights]  # without the model's own name
    assert names == [
        "gru_0/gru_cell/kernel", "gru_0/gru_cell/recurrent_kernel", "gru_0/gru_cell/bias",
        "gru_1/gru_cell/kernel", "gru_1/gru_cell/recurrent_kernel", "gru_1/gru_cell/bias",
        "head/kernel", "head/bias",
    ]


@pytest.mark.parametrize("skip", [False, True])
def test_the_fused_stack_runs_time_major_between_its_layers(skip):
    """A 3-layer stack transposes its first projection in and its top output out; the layers in
    between hand each other time-major tensors (with skip connections every layer's output is also
    transposed out for the head). The same model on Keras' layers gives the same predictions."""
    keras.utils.set_random_seed(0)
    model = FrameGRU(frame_length=FRAME, units=4, layers=3, skip_connections=skip, recurrence="fused")
    frames = tf.random.normal((3, 5, FRAME))
    graph = tf.function(lambda x: model(x)).get_concrete_function(frames).graph
    transposes = [op for op in graph.get_operations() if op.type == "Transpose"]
    assert len(transposes) == (1 + 3 if skip else 2)
    plain = FrameGRU(frame_length=FRAME, units=4, layers=3, skip_connections=skip, recurrence="keras")
    plain.build((None, None, FRAME))
    plain.set_weights(model.get_weights())
    np.testing.assert_allclose(model(frames).numpy(), plain(frames).numpy(), rtol=1e-5, atol=1e-5)
