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
