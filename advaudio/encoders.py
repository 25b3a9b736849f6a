"""Input encoders: what the recurrent stack reads at each step instead of the raw frame.

`model.encoder` names one (`ENCODERS`); "none" is the raw frame (the plain
FrameGRU). The head is unchanged, so the model still predicts a waveform frame
and generation, stitching and every objective work as they do without one.
"""
from __future__ import annotations

import keras
import tensorflow as tf

from advaudio.registry import Registry

# name -> builder `(frame_length, **model.encoder_params) -> keras.layers.Layer` mapping frames
# `[..., frame_length]` to feature vectors `[..., output_dim]` (any leading dimensions).
ENCODERS = Registry("input encoder")
NONE = "none"
FEATURES = 3  # log-magnitude, cos(phase), sin(phase)
PHASE_EPSILON = 1e-8  # eps of |X|_e = sqrt(|X|^2 + eps) dividing Re X and Im X (finite gradient at |X| = 0)


@keras.saving.register_keras_serializable(package="advaudio")
class STFTConvEncoder(keras.layers.Layer):
    """Each frame's short-time spectrum as an image, read by a small 2-D conv net.

    The 2016 author's idea: "do the Fourier [transform], and plot each frame as
    an 'image' using the phase as one axis and the amplitude as the other ...
    pass these images through a convnet, and use that as the inputs to the RNN
    at each timestep". Here each frame gets an STFT computed in the graph
    (`tf.signal.stft`, periodic Hann window of `win_length`, `fft_size` points,
    every `hop_length` samples, no padding), giving an image of
    `[stft_frames, fft_size // 2 + 1]` (time x frequency) with three channels:

        log|X| = 0.5 * log(|X|^2 + magnitude_floor^2),
        cos(phase) = Re X / |X|_e,   sin(phase) = Im X / |X|_e,   |X|_e = sqrt(|X|^2 + eps)

    (phase as cos/sin: continuous where the angle wraps at +-pi; eps keeps the
    gradient finite at |X| = 0). A stack of stride-2 `Conv2D`s (ReLU) and a
    Dense layer (tanh, the range the GRU's own inputs live in) turn the image
    into `output_dim` features.

    Args:
        frame_length: samples per frame.
        output_dim: features per frame fed to the recurrent stack.
        fft_size: FFT points of each STFT column.
        hop_length: samples between STFT columns.
        win_length: Hann window length (<= fft_size and <= frame_length).
        channels: output channels of each conv layer (each halves time and frequency).
        kernel_size: conv kernel size (square).
        magnitude_floor: floor inside the log magnitude (normalised units).
        **kwargs: forwarded to `keras.layers.Layer`.

    Shapes:
        call: frames `[..., frame_length]` (e.g. `[batch, steps, frame_length]`
        or `[batch, frame_length]`) -> `[..., output_dim]`.

    Example:
        >>> encoder = STFTConvEncoder(frame_length=4000, output_dim=128)
        >>> z = encoder(keras.random.normal((2, 8, 4000)))  # [2, 8, 128]

    Reference: the 2016 course project's unbuilt idea; spectrogram-image
    front ends as in Hershey et al. (2017), "CNN architectures for large-scale
    audio classification".
    """

    def __init__(self, frame_length: int, output_dim: int = 128, fft_size: int = 512, hop_length: int = 256,
                 win_length: int = 512, channels: tuple = (8, 16), kernel_size: int = 3,
                 magnitude_floor: float = 1e-4, **kwargs):
        super().__init__(**kwargs)
        if not 0 < win_length <= fft_size or hop_length < 1 or win_length > frame_length:
            raise ValueError(
                f"the stft_conv encoder needs 0 < win_length <= fft_size, win_length <= data.frame_length "
                f"({frame_length}) and hop_length >= 1; got fft_size={fft_size}, hop_length={hop_length}, "
                f"win_length={win_length} (model.encoder_params)"
            )
        if output_dim < 1 or kernel_size < 1 or not channels or min(channels) < 1 or magnitude_floor <= 0:
            raise ValueError(
                "the stft_conv encoder needs output_dim, kernel_size and every channel count >= 1 and "
                f"magnitude_floor > 0; got output_dim={output_dim}, kernel_size={kernel_size}, channels={channels}, "
                f"magnitude_floor={magnitude_floor} (model.encoder_params)"
            )
        self.frame_length = int(frame_length)
        self.output_dim = int(output_dim)
        self.fft_size = int(fft_size)
        self.hop_length = int(hop_length)
        self.win_length = int(win_length)
        self.channels = tuple(int(c) for c in channels)
        self.kernel_size = int(kernel_size)
        self.magnitude_floor = float(magnitude_floor)
        self.convs = [
            keras.layers.Conv2D(c, self.kernel_size, strides=2, padding="same", activation="relu", name=f"conv_{i}")
            for i, c in enumerate(self.channels)
        ]
        self.flatten = keras.layers.Flatten()
        self.dense = keras.layers.Dense(self.output_dim, activation="tanh", name="features")

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(stft_frames, bins, channels) of one frame's spectral image."""
        stft_frames = 1 + (self.frame_length - self.win_length) // self.hop_length
        return stft_frames, self.fft_size // 2 + 1, FEATURES

    def build(self, input_shape):
        shape = (None,) + self.image_shape
        for conv in self.convs:
            conv.build(shape)
            shape = conv.compute_output_shape(shape)
        self.dense.build((None, int(shape[1]) * int(shape[2]) * int(shape[3])))
        self.built = True

    def spectral_image(self, frames):
        """`[n, frame_length]` -> `[n, stft_frames, fft_size // 2 + 1, 3]` (log|X|, cos, sin)."""
        spectrum = tf.signal.stft(frames, frame_length=self.win_length, frame_step=self.hop_length,
                                  fft_length=self.fft_size, window_fn=tf.signal.hann_window, pad_end=False)
        re, im = tf.math.real(spectrum), tf.math.imag(spectrum)
        power = tf.square(re) + tf.square(im)
        log_magnitude = 0.5 * tf.math.log(power + self.magnitude_floor**2)
        magnitude = tf.sqrt(power + PHASE_EPSILON)
        return tf.stack([log_magnitude, re / magnitude, im / magnitude], axis=-1)

    def call(self, frames):
        frames = tf.convert_to_tensor(frames)
        lead = tf.shape(frames)[:-1]
        x = self.spectral_image(tf.reshape(frames, [-1, self.frame_length]))
        for conv in self.convs:
            x = conv(x)
        features = self.dense(self.flatten(x))
        return tf.reshape(features, tf.concat([lead, [self.output_dim]], axis=0))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.output_dim,)

    def get_config(self):
        config = super().get_config()
        config.update(
            frame_length=self.frame_length, output_dim=self.output_dim, fft_size=self.fft_size,
            hop_length=self.hop_length, win_length=self.win_length, channels=list(self.channels),
            kernel_size=self.kernel_size, magnitude_floor=self.magnitude_floor,
        )
        return config


@ENCODERS.register("stft_conv")
def build_stft_conv(frame_length: int, **params) -> STFTConvEncoder:
    """`STFTConvEncoder(frame_length, **params)` (see its Args)."""
    return STFTConvEncoder(frame_length, name="encoder", **params)


def build_encoder(name, frame_length: int, params: dict | None = None):
    """The encoder named by `model.encoder` (None for "none"), built for `[..., frame_length]` frames."""
    if name == NONE:
        if params:
            raise ValueError(f"model.encoder_params={params!r} given but model.encoder is 'none'")
        return None
    encoder = ENCODERS.build(name, frame_length, **(params or {}))
    encoder.build((None, frame_length))
    return encoder


def check_config(experiment) -> list[str]:
    """`model.encoder` and `model.encoder_params` (one of config.validate's feature checks): the name is
    registered and its builder accepts the parameters for this frame length."""
    model = experiment.model
    if model.encoder == NONE:
        return [f"model.encoder_params={model.encoder_params!r} given but model.encoder is 'none'"] \
            if model.encoder_params else []
    try:
        ENCODERS.build(model.encoder, experiment.data.frame_length, **model.encoder_params)  # no weights yet
    except KeyError as err:
        return [f"model.encoder: {err.args[0]} (or 'none')"]
    except (TypeError, ValueError) as err:
        return [f"model.encoder={model.encoder!r}, model.encoder_params={model.encoder_params!r}: {err}"]
    return []
