"""Tests for advaudio.spectrum: the one STFT of the losses, the spectrogram discriminator and the metrics."""
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st
from keras import ops

from advaudio import spectrum

M0 = np.sqrt(spectrum.POWER_FLOOR)  # the magnitude of a silent bin


def test_stft_magnitude_hand_computed():
    # ones(4), reflect-padded by 2 -> ones(8); frames at 0 and 4; periodic Hann(4) = [0, .5, 1, .5]
    # rfft([0, .5, 1, .5]) = [2, -1, 0] -> magnitudes [2, 1, sqrt(1e-7)] in both frames.
    mag = spectrum.stft_magnitude(tf.ones((1, 4)), fft_size=4, hop_length=4, win_length=4).numpy()
    np.testing.assert_allclose(mag, [[[2.0, 1.0, M0], [2.0, 1.0, M0]]], rtol=1e-6)
    # Uncentred: frames [0:4] and [2:6] of ones(6) are both the window itself: power [4, 1, 0].
    power = spectrum.stft_power(tf.ones((1, 6)), fft_size=4, hop_length=2, win_length=4, center=False).numpy()
    np.testing.assert_allclose(power, [[[4.0, 1.0, 0.0], [4.0, 1.0, 0.0]]], atol=1e-6)


@settings(max_examples=20, deadline=None)
@given(frame_length=st.integers(1, 40), hop_length=st.integers(1, 40), num_frames=st.integers(1, 6), batch=st.integers(1, 3))
def test_frame_by_blocks_equals_tf_signal_frame(frame_length, hop_length, num_frames, batch):
    samples = (num_frames - 1) * hop_length + frame_length
    signal = tf.reshape(tf.range(batch * samples, dtype=tf.float32), [batch, samples])
    expected = tf.signal.frame(signal, frame_length, hop_length).numpy()
    got = spectrum.frame_by_blocks(signal, frame_length, hop_length, num_frames).numpy()
    np.testing.assert_array_equal(got, expected)


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**16), fft_exp=st.integers(2, 7), hop=st.integers(1, 50), win_share=st.floats(0.1, 1.0),
       extra=st.integers(0, 200))
def test_uncentred_power_is_numpy_rfft_of_windowed_frames(seed, fft_exp, hop, win_share, extra):
    fft = 2**fft_exp
    win = max(1, int(win_share * fft))
    x = np.random.default_rng(seed).normal(size=(2, win + extra))
    count = 1 + (x.shape[1] - win) // hop
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(win) / win)  # periodic Hann
    frames = np.stack([x[:, m * hop : m * hop + win] for m in range(count)], axis=1) * window
    expected = np.abs(np.fft.rfft(frames, n=fft, axis=-1)) ** 2
    got = spectrum.stft_power(tf.constant(x), fft, hop, win, center=False)
    assert got.dtype == tf.float64
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("fft, hop, win", [(16, 4, 16), (32, 8, 20), (64, 16, 34)])
def test_centred_power_equals_keras_ops_stft(fft, hop, win):
    """The spectrogram discriminator's STFT was keras.ops.stft(center=True, window="hann"): same spectrogram (float64).

    Even windows only: for an odd length tf.signal.hann_window(periodic=True) is the symmetric window,
    where advaudio's Hann is periodic at every length (as scipy's and torch's)."""
    x = np.random.default_rng(fft + win).normal(size=(2, 300))
    real, imag = ops.stft(tf.constant(x), win, hop, fft, window="hann", center=True)
    expected = ops.convert_to_numpy(real) ** 2 + ops.convert_to_numpy(imag) ** 2
    np.testing.assert_allclose(spectrum.stft_power(tf.constant(x), fft, hop, win).numpy(), expected, rtol=1e-9, atol=1e-9)


def test_bad_resolution_is_refused():
    with pytest.raises(ValueError, match="win_length <= fft_size"):
        spectrum.stft_power(tf.zeros((1, 64)), fft_size=16, hop_length=4, win_length=32)
