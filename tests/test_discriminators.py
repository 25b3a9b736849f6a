"""Tests for advaudio.discriminators: the output contract, shapes, normalisations, serialisation, learning."""
import keras
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st

from advaudio import adversarial
from advaudio import discriminators as D
from advaudio.registry import DISCRIMINATORS

LENGTH = 64
TINY = {
    "frame_mlp": dict(hidden_units=(8, 4)),
    "waveform": dict(scales=2, channels=4, max_channels=8, downsample_factors=(2, 2)),
    "multi_period": dict(periods=(2, 3), channels=(4, 8)),
    "spectrogram": dict(resolutions=((32, 8, 32), (16, 4, 16)), channels=(4, 4)),
}


@pytest.fixture(scope="module")
def audio():
    return tf.random.stateless_normal((3, LENGTH, 1), seed=(1, 2))


def test_registry_holds_every_family():
    assert DISCRIMINATORS.names() == sorted(TINY)


def test_unknown_discriminator_lists_valid_names():
    with pytest.raises(KeyError, match="Did you mean 'waveform'"):
        D.build_discriminator("wavefrom", LENGTH)


@pytest.mark.parametrize("norm", D.NORMS)
@pytest.mark.parametrize("name", sorted(TINY))
@pytest.mark.slow
def test_output_contract(name, norm, audio):
    model = D.build_discriminator(name, LENGTH, norm=norm, **TINY[name])
    assert isinstance(model, keras.Model)
    outputs = model(audio)
    assert isinstance(outputs, list) and len(outputs) == {"frame_mlp": 1, "waveform": 2, "multi_period": 2, "spectrogram": 2}[name]
    for sub in outputs:
        assert isinstance(sub, list) and len(sub) >= 2
        for feature in sub:
            assert feature.shape[0] == 3 and np.all(np.isfinite(feature))
        assert sub[-1].shape[-1] == 1  # the logits: one channel
        assert sub[-2].shape[-1] > 1  # an intermediate feature map for feature matching


@pytest.mark.slow
def test_family_specific_shapes(audio):
    waveform = D.build_discriminator("waveform", LENGTH, **TINY["waveform"])
    scales = waveform(audio)
    # scale 0: 64 samples / 2 / 2 = 16 logits; scale 1 sees 64 average-pooled by stride 2 -> 32 -> 8 logits.
    assert [tuple(s[-1].shape) for s in scales] == [(3, 16, 1), (3, 8, 1)]
    periods = D.build_discriminator("multi_period", LENGTH, **TINY["multi_period"])(audio)
    # period p: the audio folded to [ceil(64 / p), p]; kept along the period axis.
    assert [s[-1].shape[2] for s in periods] == [2, 3]
    assert [s[0].shape[1] for s in periods] == [int(np.ceil(np.ceil(64 / p) / 3)) for p in (2, 3)]
    spectra = D.build_discriminator("spectrogram", LENGTH, **TINY["spectrogram"])(audio)
    # centred STFT: 64 / hop + 1 frames and fft_size / 2 + 1 bins (halved once by the strided conv).
    assert [tuple(s[0].shape[1:3]) for s in spectra] == [(9, 17), (17, 9)]
    assert [s[-1].shape[2] for s in spectra] == [9, 5]


def test_waveform_scales_see_average_pooled_audio(audio):
    model = D.build_discriminator("waveform", LENGTH, **TINY["waveform"])
    pooled = keras.layers.AveragePooling1D(4, strides=2, padding="same")(audio)
    np.testing.assert_allclose(model(audio)[1][-1], model.sub_discriminators[1](pooled)[-1], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", sorted(TINY))
@pytest.mark.slow
def test_serialization_round_trip(name, audio, tmp_path):
    model = D.build_discriminator(name, LENGTH, norm="spectral", **TINY[name])
    model(audio, training=True)  # moves the power-iteration vectors away from their initial values
    path = tmp_path / f"{name}.keras"
    model.save(path)
    restored = keras.saving.load_model(path)
    assert type(restored) is type(model)
    assert restored.get_config() == model.get_config()
    for a, b in zip(model(audio), restored(audio)):
        for fa, fb in zip(a, b):
            np.testing.assert_allclose(fa, fb, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("layer_cls, shape", [(D.NormalizedConv1D, (2, 16, 3)), (D.NormalizedConv2D, (2, 8, 8, 3))])
def test_normalized_conv_round_trip(layer_cls, shape):
    layer = layer_cls(4, 3, norm="weight")
    x = tf.random.stateless_normal(shape, seed=(3, 4))
    y = layer(x)
    clone = layer_cls.from_config(layer.get_config())
    clone(x)
    clone.set_weights(layer.get_weights())
    np.testing.assert_allclose(clone(x), y, rtol=1e-6)
    assert clone.norm == "weight"


def test_weight_norm_starts_as_the_plain_layer_and_fixes_each_channel_norm():
    layer = D.NormalizedConv1D(4, 3, norm="weight")
    layer.build((None, 16, 2))
    np.testing.assert_allclose(layer.normalized_kernel(), layer.kernel, rtol=1e-5, atol=1e-7)
    layer.kernel.assign(layer.kernel * 7.0)  # scaling the direction changes nothing
    layer.weight_gain.assign([1.0, 2.0, 3.0, 4.0])
    kernel = layer.normalized_kernel().numpy()
    np.testing.assert_allclose(np.sqrt((kernel**2).sum(axis=(0, 1))), [1.0, 2.0, 3.0, 4.0], rtol=1e-5)


def test_spectral_norm_drives_the_largest_singular_value_to_one():
    layer = D.NormalizedDense(6, norm="spectral")
    x = tf.ones((1, 5))
    layer(x)
    # A kernel with known singular values 10, 5, 2, 1, 0.5: power iteration converges at (5 / 10)^2 per call,
    # whatever the global random state (a random kernel's top two singular values can be close, and 30
    # calls were then not enough in some test orders).
    rng = np.random.default_rng(0)
    left, _ = np.linalg.qr(rng.standard_normal((5, 5)))
    right, _ = np.linalg.qr(rng.standard_normal((6, 6)))
    layer.kernel.assign((left @ np.diag([10.0, 5.0, 2.0, 1.0, 0.5]) @ right[:5]).astype(np.float32))
    for _ in range(30):  # power iteration converges across training calls
        layer(x, training=True)
    kernel = layer.normalized_kernel().numpy()
    assert np.linalg.svd(kernel, compute_uv=False)[0] == pytest.approx(1.0, rel=1e-3)
    u_before = layer.spectral_u.numpy().copy()
    layer(x, training=False)  # inference leaves the power-iteration state alone
    np.testing.assert_array_equal(layer.spectral_u.numpy(), u_before)


def test_unknown_norm_is_rejected():
    with pytest.raises(ValueError, match="spectral"):
        D.WaveformDiscriminator(norm="batch")


@settings(max_examples=6, deadline=None)
@given(st.integers(min_value=40, max_value=200))
@pytest.mark.slow
def test_length_agnostic_families_accept_any_length(samples):
    for name in ("waveform", "multi_period", "spectrogram"):
        outputs = _length_agnostic_models()[name](tf.zeros((1, samples, 1)))
        D.check_contract(outputs)
        assert all(np.all(np.isfinite(sub[-1])) for sub in outputs)


_MODELS = {}


def _length_agnostic_models():
    if not _MODELS:
        for name in ("waveform", "multi_period", "spectrogram"):
            _MODELS[name] = D.build_discriminator(name, LENGTH, **TINY[name])
    return _MODELS


class _UserDiscriminator(keras.Model):
    """What a user might write in an experiment file: one sub-discriminator, a hidden layer and logits."""

    def __init__(self, input_length, units):
        super().__init__()
        self.input_length = input_length
        self.hidden = keras.layers.Dense(units)
        self.logits = keras.layers.Dense(1)

    def call(self, audio, training=False):
        hidden = self.hidden(keras.ops.reshape(audio, (-1, self.input_length)))
        return [[hidden, self.logits(hidden)]]


def test_user_callable_and_contract_check():
    model = D.build_discriminator(lambda input_length, units: _UserDiscriminator(input_length, units), LENGTH, units=3)
    assert model(tf.zeros((2, LENGTH, 1)))[0][0].shape == (2, 3)

    def broken(input_length):
        inputs = keras.Input((input_length, 1))
        return keras.Model(inputs, keras.layers.Dense(1)(keras.layers.Flatten()(inputs)))

    with pytest.raises(TypeError, match="last item is the logits"):
        D.build_discriminator(broken, LENGTH)


def _tones(rng, count, length, sample_rate=8000):
    """Harmonic tones: 1-3 harmonics of a random pitch, random phases and amplitude."""
    t = np.arange(length) / sample_rate
    audio = np.zeros((count, length), "float32")
    for i in range(count):
        f0 = rng.uniform(100, 900)
        for h in range(1, rng.integers(1, 4) + 1):
            audio[i] += rng.uniform(0.2, 1.0) / h * np.sin(2 * np.pi * f0 * h * t + rng.uniform(0, 2 * np.pi))
    return audio[..., None] * rng.uniform(0.2, 1.0, size=(count, 1, 1)).astype("float32")


def _loudness_matched_noise(rng, real):
    rms = np.sqrt((real**2).mean(axis=(1, 2), keepdims=True))
    return (rng.normal(size=real.shape) * rms).astype("float32")


@pytest.mark.slow
def test_discriminator_learns_to_tell_tones_from_noise():
    """A few hundred steps on real frames vs loudness-matched noise; judged on held-out frames."""
    rng = np.random.default_rng(0)
    model = D.build_discriminator("waveform", LENGTH, **TINY["waveform"])
    game = adversarial.get("least_squares")
    optimizer = keras.optimizers.Adam(2e-3)

    @tf.function
    def step(real, noise):
        with tf.GradientTape() as tape:
            loss = game.discriminator(adversarial.logits_of(model(real, training=True)), adversarial.logits_of(model(noise, training=True)))
        optimizer.apply(tape.gradient(loss, model.trainable_variables), model.trainable_variables)
        return loss

    for _ in range(250):
        real = _tones(rng, 16, LENGTH)
        step(real, _loudness_matched_noise(rng, real))

    held_out = _tones(np.random.default_rng(123), 200, LENGTH)
    noise = _loudness_matched_noise(np.random.default_rng(456), held_out)

    def p_real(x):
        per_sub = [game.probability_real(sub[-1]).numpy().reshape(len(x), -1).mean(1) for sub in model(x)]
        return np.mean(per_sub, axis=0)

    accuracy = 0.5 * ((p_real(held_out) > 0.5).mean() + (p_real(noise) < 0.5).mean())
    assert accuracy > 0.9, accuracy
