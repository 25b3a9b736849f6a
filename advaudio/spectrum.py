"""The one short-time Fourier transform of advaudio: Hann-windowed power and magnitude spectrograms.

The MR-STFT losses, the spectrogram discriminator and the evaluation metrics all call
`stft_power` / `stft_magnitude`, so "a spectrogram" means the same thing everywhere.
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf

MAX_FRAMING_BLOCKS = 16  # above this many hop-blocks per frame, slicing costs more than a gather
POWER_FLOOR = 1e-7  # default floor of re^2 + im^2 under the magnitude's square root


def hann_window(win_length: int, dtype=np.float32) -> np.ndarray:
    """Periodic Hann window `[win_length]` (as `torch.hann_window`, `scipy` fftbins=True)."""
    n = np.arange(win_length)
    return (0.5 - 0.5 * np.cos(2.0 * np.pi * n / win_length)).astype(dtype)


def centred_window(fft_size: int, win_length: int) -> np.ndarray:
    """Hann of `win_length` zero-padded to `fft_size`, centred (left pad `(fft_size - win_length) // 2`)."""
    window = np.zeros(fft_size, dtype=np.float32)
    left = (fft_size - win_length) // 2
    window[left : left + win_length] = hann_window(win_length)
    return window


def frame_by_blocks(signal, frame_length: int, hop_length: int, num_frames):
    """`tf.signal.frame(signal, frame_length, hop_length)` built from contiguous slices.

    The signal is cut into blocks of `hop_length` samples; frame m is blocks
    m .. m + J - 1 (J = ceil(frame_length / hop_length)) end to end, truncated.
    Its gradient is a sum of padded slices instead of the gather/scatter of
    `tf.signal.frame` (about 10% faster for the default resolutions on a CPU).
    Falls back to `tf.signal.frame` when J > MAX_FRAMING_BLOCKS.

    Args:
        signal: `[batch, (num_frames - 1) * hop_length + frame_length]`.
    Returns:
        `[batch, num_frames, frame_length]`.
    """
    blocks_per_frame = -(-frame_length // hop_length)
    if blocks_per_frame > MAX_FRAMING_BLOCKS:
        return tf.signal.frame(signal, frame_length, hop_length)
    total_blocks = num_frames + blocks_per_frame - 1
    needed = total_blocks * hop_length
    signal = tf.pad(signal, [[0, 0], [0, tf.maximum(0, needed - tf.shape(signal)[1])]])[:, :needed]
    blocks = tf.reshape(signal, [tf.shape(signal)[0], total_blocks, hop_length])
    frames = tf.concat([blocks[:, j : j + num_frames] for j in range(blocks_per_frame)], axis=-1)
    return frames[..., :frame_length]


def stft_power(audio, fft_size: int, hop_length: int, win_length: int, center: bool = True):
    """Power spectrogram |X[m, k]|^2 = re^2 + im^2 of a Hann-windowed STFT.

    X[m, k] = sum_n w[n] x_pad[m * hop_length + n] e^{-2 pi i k n / fft_size},
    w a periodic Hann window of `win_length` zero-padded (centred) to `fft_size`.

    center=True (the losses, the discriminator; as `torch.stft(center=True)`
    and `keras.ops.stft(center=True)`): x_pad is x reflect-padded by
    `fft_size // 2` on both sides, so frame m is centred on sample
    m * hop_length; `1 + samples // hop_length` frames.
    center=False (the metrics): x_pad = x, frame m starts at sample
    m * hop_length; `1 + (samples - win_length) // hop_length` frames (a partial
    last frame is dropped; samples >= win_length).

    Only the `win_length` non-zero samples of each frame are framed and the FFT
    zero-pads them to `fft_size`: a time shift changes only the phase, so the
    power is that of the centred zero-padded window, at a fraction of the
    memory traffic.

    Args:
        audio: `[batch, samples]`, float32 or float64 (the result has its dtype).
    Returns:
        `[batch, frames, fft_size // 2 + 1]`.
    """
    if not 0 < win_length <= fft_size or hop_length <= 0:
        raise ValueError(
            f"an STFT needs 0 < win_length <= fft_size and hop_length > 0, got "
            f"(fft_size={fft_size}, hop_length={hop_length}, win_length={win_length})"
        )
    samples = audio.shape[-1]
    if samples is None:  # unknown until run time (XLA still compiles for the concrete shape)
        samples = tf.shape(audio)[-1]
    if center:
        pad = fft_size // 2
        num_frames = 1 + (samples + 2 * pad - fft_size) // hop_length
        offset = (fft_size - win_length) // 2
        padded = tf.pad(audio, [[0, 0], [pad, pad]], mode="REFLECT")
        audio = padded[:, offset : offset + (num_frames - 1) * hop_length + win_length]
    else:
        num_frames = 1 + (samples - win_length) // hop_length
    frames = frame_by_blocks(audio, win_length, hop_length, num_frames)
    window = tf.constant(hann_window(win_length, frames.dtype.as_numpy_dtype))
    spectrum = tf.signal.rfft(frames * window, fft_length=[fft_size])
    return tf.square(tf.math.real(spectrum)) + tf.square(tf.math.imag(spectrum))


def stft_magnitude(audio, fft_size: int, hop_length: int, win_length: int, power_floor: float = POWER_FLOOR, center: bool = True):
    """Magnitude spectrogram sqrt(max(|X[m, k]|^2, power_floor)) of `stft_power` (same arguments).

    The floor keeps logarithms and the gradient of the square root finite in silence.

    Returns:
        `[batch, frames, fft_size // 2 + 1]`.
    """
    return tf.sqrt(tf.maximum(stft_power(audio, fft_size, hop_length, win_length, center=center), power_floor))
