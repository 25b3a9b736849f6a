"""Tests for advaudio/stitching.py: hand-computed cases and hypothesis properties."""
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st

from advaudio.registry import STITCHERS
from advaudio.stitching import (
    crossfade,
    frames_needed,
    overlap_add,
    resolve_method,
    stitch,
    stitched_length,
    synthesis_window,
)

SETTINGS = settings(max_examples=25, deadline=None)


def frames_of(signal, frame_length, frame_hop, num_frames):
    """`[1, num_frames, frame_length]` frames of a 1-D signal, `frame_hop` apart."""
    return np.stack([signal[k * frame_hop : k * frame_hop + frame_length] for k in range(num_frames)])[None]


def test_concat_hand_computed():
    frames = np.array([[[1, 2], [3, 4], [5, 6]]], np.float32)
    np.testing.assert_array_equal(stitch(frames, "concat", 2).numpy(), [[1, 2, 3, 4, 5, 6]])
    # Overlapping frames: each frame contributes its first hop samples.
    np.testing.assert_array_equal(stitch(frames, "concat", 1).numpy(), [[1, 3, 5]])


def test_overlap_add_hand_computed():
    frames = np.array([[[1, 1], [3, 3]]], np.float32)
    out = stitch(frames, "overlap_add", 1, window="rectangular").numpy()
    np.testing.assert_allclose(out, [[1, 2, 3]])
    # Hann (half-sample offsets) over 4 samples: weights sin^2(pi (n + .5) / 4).
    w = np.sin(np.pi * (np.arange(4) + 0.5) / 4) ** 2
    frames = np.array([[[1, 1, 1, 1], [5, 5, 5, 5]]], np.float32)
    out = stitch(frames, "overlap_add", 2, window="hann").numpy()[0]
    expected_mid = (w[2:] * 1 + w[:2] * 5) / (w[2:] + w[:2])
    np.testing.assert_allclose(out, [1, 1, *expected_mid, 5, 5], rtol=1e-6)


def test_crossfade_hand_computed():
    frames = np.array([[[1, 1, 1, 1], [2, 2, 2, 2]]], np.float32)
    out = stitch(frames, "crossfade", 4, crossfade_length=1).numpy()[0]
    g = np.sqrt(0.5)  # sin(pi/4) = cos(pi/4)
    np.testing.assert_allclose(out, [1, 1, 1, g * 1 + g * 2, 2, 2, 2], rtol=1e-6)


@SETTINGS
@given(
    frame_length=st.integers(2, 24),
    hop_fraction=st.floats(0.05, 1.0),
    num_frames=st.integers(1, 6),
    value=st.floats(-3, 3),
    window=st.sampled_from(["hann", "rectangular"]),
)
@pytest.mark.slow
def test_overlap_add_constant_in_constant_out(frame_length, hop_fraction, num_frames, value, window):
    """COLA after normalisation: no gain change anywhere, edges included."""
    hop = max(1, int(round(hop_fraction * frame_length)))
    frames = np.full((2, num_frames, frame_length), value, np.float32)
    out = stitch(frames, "overlap_add", hop, window=window).numpy()
    assert out.shape == (2, stitched_length("overlap_add", num_frames, frame_length, hop))
    np.testing.assert_allclose(out, value, atol=1e-5 * (1 + abs(value)))


@SETTINGS
@given(frame_length=st.integers(4, 24), hop_fraction=st.floats(0.05, 1.0), num_frames=st.integers(1, 6))
@pytest.mark.slow
def test_overlap_add_of_true_frames_is_the_signal(frame_length, hop_fraction, num_frames):
    """Frames cut from one signal stitch back to exactly that signal."""
    hop = max(1, int(round(hop_fraction * frame_length)))
    signal = np.random.default_rng(frame_length).normal(size=(num_frames - 1) * hop + frame_length).astype(np.float32)
    out = stitch(frames_of(signal, frame_length, hop, num_frames), "overlap_add", hop).numpy()[0]
    np.testing.assert_allclose(out, signal, rtol=1e-5, atol=1e-5)


@SETTINGS
@given(
    method=st.sampled_from(["concat", "overlap_add", "crossfade", "auto"]),
    frame_length=st.integers(4, 32),
    hop_fraction=st.floats(0.1, 1.0),
    num_frames=st.integers(1, 7),
    crossfade_fraction=st.floats(0.0, 1.0),
)
def test_lengths_are_exact(method, frame_length, hop_fraction, num_frames, crossfade_fraction):
    hop = max(1, int(round(hop_fraction * frame_length)))
    limit = frame_length // 2 if hop >= frame_length else min(hop, frame_length - hop)
    crossfade_length = int(crossfade_fraction * limit)
    frames = np.random.default_rng(0).normal(size=(3, num_frames, frame_length)).astype(np.float32)
    out = stitch(frames, method, hop, crossfade_length=crossfade_length).numpy()
    assert out.shape == (3, stitched_length(method, num_frames, frame_length, hop, crossfade_length))


@SETTINGS
@given(
    method=st.sampled_from(["concat", "overlap_add", "crossfade"]),
    num_samples=st.integers(1, 500),
    frame_length=st.integers(4, 64),
    hop_fraction=st.floats(0.1, 1.0),
)
def test_frames_needed_is_the_fewest(method, num_samples, frame_length, hop_fraction):
    hop = max(1, int(round(hop_fraction * frame_length)))
    crossfade_length = min(hop, frame_length - hop) // 2 if hop < frame_length else frame_length // 4
    n = frames_needed(method, num_samples, frame_length, hop, crossfade_length)
    assert stitched_length(method, n, frame_length, hop, crossfade_length) >= num_samples
    if n > 1:
        assert stitched_length(method, n - 1, frame_length, hop, crossfade_length) < num_samples


@SETTINGS
@given(frame_length=st.integers(8, 32), hop_fraction=st.floats(0.3, 0.7), num_frames=st.integers(2, 5))
def test_crossfade_of_overlapping_frames_keeps_timing(frame_length, hop_fraction, num_frames):
    """Pieces stay frame_hop apart: outside the fades the output is the signal itself."""
    hop = max(1, int(round(hop_fraction * frame_length)))
    length = max(1, min(hop, frame_length - hop) // 2)
    signal = np.arange(2 * frame_length * num_frames, dtype=np.float32)
    out = stitch(frames_of(signal, frame_length, hop, num_frames), "crossfade", hop, crossfade_length=length).numpy()[0]
    assert len(out) == num_frames * hop + length
    fading = np.zeros(len(out), bool)
    for k in range(1, num_frames):
        fading[k * hop : k * hop + length] = True
    np.testing.assert_array_equal(out[~fading], signal[: len(out)][~fading])


def test_crossfade_is_equal_power():
    """Uncorrelated unit-power frames keep unit power through the fade."""
    rng = np.random.default_rng(1)
    frames = rng.normal(size=(4000, 2, 64)).astype(np.float32)
    out = stitch(frames, "crossfade", 64, crossfade_length=16).numpy()
    fade = out[:, 48:64]  # the 16 crossfaded samples
    np.testing.assert_allclose(np.mean(fade**2, axis=0), 1.0, atol=0.1)


def test_crossfade_rejects_bad_lengths():
    frames = np.zeros((1, 2, 16), np.float32)
    with pytest.raises(ValueError, match="crossfade_length"):
        crossfade(frames, 16, crossfade_length=9)
    with pytest.raises(ValueError, match="crossfade_length"):
        crossfade(frames, 12, crossfade_length=5)  # frames overlap by 4


def test_auto_and_unknown_methods():
    assert resolve_method("auto", 16, 8) == "overlap_add"
    assert resolve_method("auto", 16, 16) == "concat"  # a crossfade would change speed and pitch
    with pytest.raises(KeyError, match="overlap_add"):
        stitch(np.zeros((1, 2, 4), np.float32), "overlap_ad", 2)
    assert set(STITCHERS.names()) >= {"concat", "overlap_add", "crossfade"}


def test_window_is_positive_and_rejects_unknown():
    assert np.all(synthesis_window("hann", 7) > 0)
    assert np.all(synthesis_window("sine", 7) > 0)
    with pytest.raises(ValueError, match="hann"):
        synthesis_window("hamming", 8)


@pytest.mark.parametrize("method", ["concat", "overlap_add", "crossfade"])
@pytest.mark.slow
def test_stitch_in_a_compiled_loss_with_unknown_batch(method):
    """The spectral losses stitch inside tf.function with a dynamic batch size."""

    @tf.function(input_signature=[tf.TensorSpec([None, 3, 8], tf.float32)])
    def stitched(frames):
        return stitch(frames, method, 4, crossfade_length=2)

    frames = np.random.default_rng(2).normal(size=(2, 3, 8)).astype(np.float32)
    np.testing.assert_allclose(stitched(frames).numpy(), stitch(frames, method, 4, crossfade_length=2).numpy(), rtol=1e-6)


def test_sine_window_overlap_add_keeps_the_power_of_uncorrelated_frames():
    """Equal power: y = sum(w f) / sqrt(sum(w^2)); the amplitude-normalised Hann dips 3 dB between frame centres."""
    frame_length, hop = 64, 32
    frames = np.random.default_rng(5).standard_normal((2000, 30, frame_length)).astype(np.float32)
    inner = slice(frame_length, -frame_length)
    for window, dip_db in (("sine", 0.0), ("hann", 10 * np.log10(2))):
        power = np.mean(overlap_add(frames, hop, window=window).numpy()[:, inner] ** 2, axis=0).reshape(-1, hop)
        profile = 10 * np.log10(power.mean(axis=0))  # by position within the hop, over 2000 x 26 hops
        assert profile.max() - profile.min() == pytest.approx(dip_db, abs=0.25), window
        assert profile.max() == pytest.approx(0.0, abs=0.2)  # frame centres keep unit power
    # sum(w^2) = 1 inside at 50% overlap (Princen-Bradley), so there the output is the plain windowed sum
    w = synthesis_window("sine", frame_length)
    np.testing.assert_allclose(w[:hop] ** 2 + w[hop:] ** 2, 1.0, atol=1e-6)
    one = frames[:1, :3]
    y = overlap_add(one, hop, window="sine").numpy()[0]
    np.testing.assert_allclose(y[hop:2 * hop], w[hop:] * one[0, 0, hop:] + w[:hop] * one[0, 1, :hop], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(y[:hop], one[0, 0, :hop], rtol=1e-5)  # one frame alone comes out as it is
