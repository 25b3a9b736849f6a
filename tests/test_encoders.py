"""Tests for advaudio/encoders.py: the spectral input encoder on its own."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from advaudio.encoders import ENCODERS, STFTConvEncoder, build_encoder

F = 32
PARAMS = {"output_dim": 6, "fft_size": 16, "hop_length": 8, "win_length": 16, "channels": (2, 3)}


def randomised(layer, seed=0):
    rng = np.random.default_rng(seed)
    for weight in layer.weights:
        weight.assign(0.3 * rng.normal(size=weight.shape).astype(np.float32))
    return layer


@pytest.fixture(scope="module")
def encoder():
    keras.utils.set_random_seed(0)
    return build_encoder("stft_conv", F, PARAMS)


def test_shapes_for_sequences_and_single_frames(encoder):
    x = np.random.default_rng(1).normal(size=(3, 5, F)).astype(np.float32)
    assert encoder(x).shape == (3, 5, 6)
    assert encoder(x[:, 0]).shape == (3, 6)  # one step, as FrameGRU.step feeds it
    np.testing.assert_allclose(encoder(x[:, 2]), encoder(x)[:, 2], rtol=1e-5, atol=1e-6)  # frames are independent
    # 1 + (32 - 16) // 8 = 3 STFT columns of 16 // 2 + 1 = 9 bins, 3 channels.
    assert encoder.image_shape == (3, 9, 3)


def test_spectral_image_hand_values(encoder):
    # A cosine at bin 2 of the 16-point FFT: Hann-windowed, its spectrum at bin 2 is 16 / 4 = 4 with phase 0
    # (periodic Hann: sum(w) = 8, a cosine of amplitude 1 gives 8 / 2 = 4 at +-bin 2).
    t = np.arange(F)
    frame = np.cos(2 * np.pi * 2 * t / 16).astype(np.float32)
    image = encoder.spectral_image(frame[None]).numpy()[0]
    np.testing.assert_allclose(image[:, 2, 0], 0.5 * np.log(16.0 + 1e-8), rtol=1e-5)  # log|X| = log 4
    np.testing.assert_allclose(image[:, 2, 1], 1.0, atol=1e-5)  # cos(phase) = 1: every column starts at t = 8k
    np.testing.assert_allclose(image[:, 2, 2], 0.0, atol=1e-5)
    # A sine is the same magnitude with phase -pi/2.
    image = encoder.spectral_image(np.sin(2 * np.pi * 2 * t / 16).astype(np.float32)[None]).numpy()[0]
    np.testing.assert_allclose(image[:, 2, 1:], [[0.0, -1.0]] * 3, atol=1e-5)
    # Silence: the floor, and a finite gradient.
    silence = tf.zeros((1, F))
    with tf.GradientTape() as tape:
        tape.watch(silence)
        out = encoder(silence)
    np.testing.assert_allclose(encoder.spectral_image(silence)[..., 0], np.log(1e-4), rtol=1e-5)
    assert np.all(np.isfinite(tape.gradient(out, silence)))


def test_serialisation_round_trip(tmp_path):
    encoder = randomised(build_encoder("stft_conv", F, PARAMS))
    x = np.random.default_rng(2).normal(size=(2, 4, F)).astype(np.float32)
    config = encoder.get_config()
    assert {k: config[k] for k in PARAMS} == {**PARAMS, "channels": [2, 3]}
    clone = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(encoder))
    if not clone.built:
        clone.build((None, F))
    clone.set_weights(encoder.get_weights())
    np.testing.assert_allclose(clone(x), encoder(x), rtol=1e-6, atol=1e-6)
    model = keras.Sequential([keras.Input((None, F)), encoder])
    model.save(tmp_path / "encoder.keras")
    loaded = keras.saving.load_model(tmp_path / "encoder.keras")
    np.testing.assert_allclose(loaded(x), encoder(x), rtol=1e-6, atol=1e-6)


def test_registry_and_bad_parameters():
    assert "stft_conv" in ENCODERS
    assert build_encoder("none", F) is None
    with pytest.raises(KeyError, match="Did you mean 'stft_conv'"):
        build_encoder("stft_conf", F)
    with pytest.raises(ValueError, match="win_length"):
        STFTConvEncoder(frame_length=F, fft_size=16, win_length=64)
    with pytest.raises(ValueError, match="model.encoder_params"):
        STFTConvEncoder(frame_length=F, fft_size=16, hop_length=8, win_length=16, channels=())
    with pytest.raises(ValueError, match="encoder is 'none'"):
        build_encoder("none", F, {"output_dim": 4})


def test_trains_and_reads_the_spectrum():
    """Briefly trained, the features tell a low tone from a high one (the encoder is differentiable end to end)."""
    keras.utils.set_random_seed(0)
    encoder = build_encoder("stft_conv", F, {**PARAMS, "output_dim": 4})
    head = keras.layers.Dense(1)
    rng = np.random.default_rng(3)
    t = np.arange(F)
    labels = rng.integers(0, 2, size=256)
    bins = np.where(labels == 1, 6, 2)
    frames = np.cos(2 * np.pi * bins[:, None] * t / 16 + rng.uniform(0, 2 * np.pi, size=(256, 1))).astype(np.float32)
    optimizer = keras.optimizers.Adam(3e-2)

    @tf.function
    def step(x, y):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(keras.losses.binary_crossentropy(y[:, None], head(encoder(x)), from_logits=True))
        variables = encoder.trainable_variables + head.trainable_variables
        optimizer.apply(tape.gradient(loss, variables), variables)
        return loss

    y = labels.astype(np.float32)
    for _ in range(60):
        loss = step(frames, y)
    accuracy = np.mean((head(encoder(frames)).numpy()[:, 0] > 0) == labels)
    assert accuracy > 0.95, f"accuracy {accuracy:.2f}, loss {float(loss):.3f}"
