"""The discriminator family: frame MLP, multi-scale waveform, multi-period, multi-resolution spectrogram.

Every discriminator is a registered `keras.Model` in `registry.DISCRIMINATORS`
with one contract: `call(audio [batch, samples, 1])` returns a list over
sub-discriminators, each a list of feature maps whose LAST item is the logits.
"""
from __future__ import annotations

import keras
import tensorflow as tf
from keras import ops

from advaudio import spectrum
from advaudio.registry import DISCRIMINATORS, accepted_params

NORMS = ("none", "weight", "spectral")
# The spectrogram discriminator's input log(sqrt(power + SPECTROGRAM_POWER_EPSILON) + SPECTROGRAM_LOG_EPSILON):
# a smooth square root and a finite logarithm in silence.
SPECTROGRAM_POWER_EPSILON = 1e-10
SPECTROGRAM_LOG_EPSILON = 1e-5
_EPSILON = 1e-12  # keeps the l2 normalisations finite for an all-zero vector


def _check_norm(norm: str) -> str:
    if norm not in NORMS:
        raise ValueError(f"discriminator norm must be one of {NORMS}, got {norm!r}")
    return norm


def _l2_normalize(x):
    return x / ops.sqrt(ops.sum(ops.square(x)) + _EPSILON)


class _KernelNormalization:
    """Mixin: a layer whose `kernel` is reparametrised by weight or spectral normalisation.

    weight (Salimans & Kingma, 2016): w = g * v / ||v||, one gain g per output
    channel, the norm taken over every other kernel axis; g starts at ||v|| so
    the layer starts as the unnormalised one.

    spectral (Miyato et al., 2018): w = v / sigma(v), sigma the largest singular
    value of v reshaped to `[-1, out]`, estimated by power iteration with a
    persistent vector u updated in training calls. Unlike
    `keras.layers.SpectralNormalization`, the normalised kernel is recomputed
    in every call (gradients flow through sigma) and the kernel variable is
    never assigned, so no cross-replica synchronisation happens inside the
    discriminator: u is a per-replica ON_READ variable (every replica computes
    the same update from the same mirrored kernel).
    """

    def __init__(self, *args, norm: str = "none", power_iterations: int = 1, **kwargs):
        super().__init__(*args, **kwargs)
        self.norm = _check_norm(norm)
        self.power_iterations = power_iterations

    def build(self, input_shape):
        super().build(input_shape)
        self._build_normalization()

    def get_config(self):
        config = super().get_config()
        config.update(norm=self.norm, power_iterations=self.power_iterations)
        return config

    def call(self, inputs, training=False):
        outputs = self.apply_kernel(inputs, self.normalized_kernel(training))
        if self.use_bias:
            outputs = outputs + self.bias
        return self.activation(outputs) if self.activation is not None else outputs

    def _build_normalization(self):
        out = self.kernel.shape[-1]
        if self.norm == "weight":
            axes = tuple(range(len(self.kernel.shape) - 1))
            initial = ops.sqrt(ops.sum(ops.square(self.kernel), axis=axes))
            self.weight_gain = self.add_weight(
                name="weight_gain", shape=(out,), initializer=keras.initializers.Constant(1.0)
            )
            self.weight_gain.assign(initial)
        elif self.norm == "spectral":
            # add_weight takes no `synchronization`, so the variable is made and tracked by hand.
            with keras.name_scope(self.name, caller=self):
                self.spectral_u = keras.Variable(
                    initializer=keras.initializers.RandomNormal(stddev=1.0, seed=0),
                    shape=(1, out),
                    dtype=self.variable_dtype,
                    trainable=False,
                    synchronization="on_read",
                    aggregation="mean",
                    name="spectral_u",
                )

    def normalized_kernel(self, training=False):
        """The kernel the layer applies (the raw kernel when norm is "none")."""
        kernel = self.kernel
        if self.norm == "weight":
            axes = tuple(range(len(kernel.shape) - 1))
            norm = ops.sqrt(ops.sum(ops.square(kernel), axis=axes, keepdims=True) + _EPSILON)
            return kernel / norm * self.weight_gain
        if self.norm == "spectral":
            matrix = ops.reshape(kernel, (-1, kernel.shape[-1]))
            u = ops.convert_to_tensor(self.spectral_u)
            for _ in range(self.power_iterations):
                v = _l2_normalize(ops.matmul(u, ops.transpose(matrix)))
                u = _l2_normalize(ops.matmul(v, matrix))
            u = ops.stop_gradient(u)
            v = ops.stop_gradient(v)
            sigma = ops.sum(ops.matmul(v, matrix) * u)
            if training:
                self.spectral_u.assign(u)
            return kernel / sigma
        return kernel

    # Dense and Conv save only their own kernel/bias (quantization-aware); the
    # generic Layer methods store every variable, gains and u included.
    def save_own_variables(self, store):
        keras.layers.Layer.save_own_variables(self, store)

    def load_own_variables(self, store):
        keras.layers.Layer.load_own_variables(self, store)



@keras.saving.register_keras_serializable(package="advaudio")
class NormalizedConv1D(_KernelNormalization, keras.layers.Conv1D):
    """`keras.layers.Conv1D` with a weight- or spectral-normalised kernel.

    Args:
        norm: "none", "weight" or "spectral".
        power_iterations: power-iteration steps per call (spectral norm).
        *args, **kwargs: those of `keras.layers.Conv1D`.

    Shapes: `[batch, steps, channels]` -> `[batch, new_steps, filters]`.

    Example:
        >>> conv = NormalizedConv1D(8, 5, norm="weight", padding="same")
        >>> y = conv(keras.random.normal((2, 100, 1)))  # [2, 100, 8]
    """

    def apply_kernel(self, inputs, kernel):
        return self.convolution_op(inputs, kernel)


@keras.saving.register_keras_serializable(package="advaudio")
class NormalizedConv2D(_KernelNormalization, keras.layers.Conv2D):
    """`keras.layers.Conv2D` with a weight- or spectral-normalised kernel.

    Args:
        norm: "none", "weight" or "spectral".
        power_iterations: power-iteration steps per call (spectral norm).
        *args, **kwargs: those of `keras.layers.Conv2D`.

    Shapes: `[batch, height, width, channels]` -> `[batch, h', w', filters]`.
    """

    def apply_kernel(self, inputs, kernel):
        return self.convolution_op(inputs, kernel)


@keras.saving.register_keras_serializable(package="advaudio")
class NormalizedDense(_KernelNormalization, keras.layers.Dense):
    """`keras.layers.Dense` with a weight- or spectral-normalised kernel.

    Args:
        norm: "none", "weight" or "spectral".
        power_iterations: power-iteration steps per call (spectral norm).
        *args, **kwargs: those of `keras.layers.Dense`.

    Shapes: `[..., in_features]` -> `[..., units]`.
    """

    def apply_kernel(self, inputs, kernel):
        return ops.matmul(inputs, kernel)


def _as_lists(value):
    """Tuples (nested too) as lists, so a config equals its JSON round trip."""
    if isinstance(value, (list, tuple)):
        return [_as_lists(v) for v in value]
    if isinstance(value, dict):
        return {k: _as_lists(v) for k, v in value.items()}
    return value


def _feature_maps(x, layers, logits, negative_slope, training):
    """Runs `layers` with leaky ReLU after each; returns every feature map, the logits last."""
    features = []
    for layer in layers:
        x = _leaky(layer(x, training=training), negative_slope)
        features.append(x)
    features.append(logits(x, training=training))
    return features


def _leaky(x, slope):
    return ops.leaky_relu(x, negative_slope=slope)


# --------------------------------------------------------------------------- frame_mlp


@keras.saving.register_keras_serializable(package="advaudio")
class FrameMLPDiscriminator(keras.Model):
    """A multilayer perceptron over one fixed-length stretch of audio.

    The simplest judge: it sees the whole input at once, so it needs a fixed
    `input_length` (one frame, or the stitched frames).

    Args:
        input_length: samples per example (T).
        hidden_units: width of each hidden layer.
        negative_slope: leaky-ReLU slope.
        norm: "none", "weight" or "spectral" normalisation of every kernel.
        **kwargs: forwarded to `keras.Model`.

    Shapes:
        call: audio `[batch, input_length, 1]` -> `[[h_1 [batch, hidden_units[0]],
        ..., logits [batch, 1]]]` (one sub-discriminator).

    Example:
        >>> d = FrameMLPDiscriminator(input_length=64, hidden_units=(16, 8))
        >>> outputs = d(keras.random.normal((2, 64, 1)))
        >>> logits = outputs[0][-1]  # [2, 1]

    Reference: Goodfellow et al., 2014 (the original MLP discriminator).
    """

    def __init__(
        self,
        input_length: int,
        hidden_units=(256, 128),
        negative_slope: float = 0.2,
        norm: str = "none",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.input_length = int(input_length)
        self.hidden_units = tuple(int(u) for u in hidden_units)
        self.negative_slope = negative_slope
        self.norm = _check_norm(norm)
        self.hidden = [NormalizedDense(u, norm=norm, name=f"hidden_{i}") for i, u in enumerate(self.hidden_units)]
        self.logits = NormalizedDense(1, norm=norm, name="logits")

    def build(self, input_shape):
        width = self.input_length
        for layer in self.hidden:
            layer.build((None, width))
            width = layer.units
        self.logits.build((None, width))
        self.built = True

    def call(self, audio, training=False):
        x = ops.reshape(audio, (-1, self.input_length))
        return [_feature_maps(x, self.hidden, self.logits, self.negative_slope, training)]

    def get_config(self):
        config = super().get_config()
        config.update(
            input_length=self.input_length,
            hidden_units=list(self.hidden_units),
            negative_slope=self.negative_slope,
            norm=self.norm,
        )
        return config


# --------------------------------------------------------------------------- waveform


@keras.saving.register_keras_serializable(package="advaudio")
class ScaleDiscriminator(keras.layers.Layer):
    """One MelGAN scale: strided grouped 1-D convolutions down to a logit per position.

    Args:
        channels: channels of the first convolution.
        max_channels: cap on the channels as they grow.
        downsample_factors: stride of each downsampling convolution; the
            channels grow by the same factor.
        kernel_size: kernel of the downsampling convolutions
            (`stride * 10 + 1`, MelGAN's 41 for stride 4, when None).
        groups: groups of the downsampling convolutions (reduced until it
            divides the channels). MelGAN uses 4; TensorFlow has no grouped
            convolution kernel for the CPU (its XLA fallback is ~25x slower), so
            the default is 1.
        negative_slope: leaky-ReLU slope.
        norm: "none", "weight" or "spectral".
        **kwargs: forwarded to `keras.layers.Layer`.

    Shapes: audio `[batch, samples, 1]` -> list of feature maps
        `[batch, steps_i, channels_i]`, the last `[batch, steps, 1]` logits.
    """

    def __init__(
        self,
        channels: int = 16,
        max_channels: int = 256,
        downsample_factors=(4, 4, 4),
        kernel_size: int | None = None,
        groups: int = 1,
        negative_slope: float = 0.2,
        norm: str = "none",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.channels = channels
        self.max_channels = max_channels
        self.downsample_factors = tuple(int(f) for f in downsample_factors)
        self.kernel_size = kernel_size
        self.groups = groups
        self.negative_slope = negative_slope
        self.norm = _check_norm(norm)
        conv = lambda *a, **k: NormalizedConv1D(*a, norm=norm, padding="same", **k)  # noqa: E731
        self.convs = [conv(channels, 15, name="conv_in")]
        width = channels
        for i, factor in enumerate(self.downsample_factors):
            out = min(width * factor, max_channels)
            group_count = max(1, min(groups, width, out))
            while width % group_count or out % group_count:
                group_count -= 1
            kernel = kernel_size or factor * 10 + 1
            self.convs.append(conv(out, kernel, strides=factor, groups=group_count, name=f"conv_down_{i}"))
            width = out
        self.convs.append(conv(width, 5, name="conv_out"))
        self.logits = conv(1, 3, name="logits")

    def build(self, input_shape):
        shape = tuple(input_shape)
        for layer in self.convs:
            layer.build(shape)
            shape = layer.compute_output_shape(shape)
        self.logits.build(shape)
        self.built = True

    def call(self, audio, training=False):
        x = audio
        return _feature_maps(x, self.convs, self.logits, self.negative_slope, training)

    def get_config(self):
        config = super().get_config()
        config.update(
            channels=self.channels,
            max_channels=self.max_channels,
            downsample_factors=list(self.downsample_factors),
            kernel_size=self.kernel_size,
            groups=self.groups,
            negative_slope=self.negative_slope,
            norm=self.norm,
        )
        return config


@keras.saving.register_keras_serializable(package="advaudio")
class WaveformDiscriminator(keras.Model):
    """MelGAN's multi-scale discriminator: the same architecture at several time scales.

    Scale 0 sees the audio; scale i sees it average-pooled i times (pool 4,
    stride 2, "same" padding), so coarser scales judge slower structure.

    Args:
        input_length: unused (any length works); accepted for the common
            discriminator-factory signature.
        scales: number of sub-discriminators.
        pool_size, pool_stride: the average pooling between scales.
        **scale_params: `ScaleDiscriminator` arguments (channels,
            max_channels, downsample_factors, kernel_size, groups,
            negative_slope, norm).

    Shapes:
        call: audio `[batch, samples, 1]` -> list over `scales` of feature-map
        lists, each ending in logits `[batch, steps, 1]`.

    Example:
        >>> d = WaveformDiscriminator(scales=2, channels=4, max_channels=8)
        >>> outputs = d(keras.random.normal((2, 256, 1)))
        >>> [len(o) for o in outputs]  # [5, 5]

    Reference: Kumar et al., 2019, "MelGAN", section 2.2.
    """

    def __init__(self, input_length: int | None = None, scales: int = 3, pool_size: int = 4, pool_stride: int = 2, **scale_params):
        base_kwargs = {k: scale_params.pop(k) for k in ("name", "dtype", "trainable") if k in scale_params}
        super().__init__(**base_kwargs)
        self.input_length = input_length
        self.scales = scales
        self.pool_size = pool_size
        self.pool_stride = pool_stride
        self.scale_params = dict(scale_params)
        self.sub_discriminators = [ScaleDiscriminator(**scale_params, name=f"scale_{i}") for i in range(scales)]
        self.pool = keras.layers.AveragePooling1D(pool_size, strides=pool_stride, padding="same")

    def build(self, input_shape):
        shape = tuple(input_shape)
        for i, sub in enumerate(self.sub_discriminators):
            if i:
                shape = self.pool.compute_output_shape(shape)
            sub.build(shape)
        self.built = True

    def call(self, audio, training=False):
        outputs = []
        x = audio
        for i, sub in enumerate(self.sub_discriminators):
            if i:
                x = self.pool(x)
            outputs.append(sub(x, training=training))
        return outputs

    def get_config(self):
        config = super().get_config()
        config.update(
            input_length=self.input_length,
            scales=self.scales,
            pool_size=self.pool_size,
            pool_stride=self.pool_stride,
            **_as_lists(self.scale_params),
        )
        return config


# --------------------------------------------------------------------------- multi_period


@keras.saving.register_keras_serializable(package="advaudio")
class PeriodDiscriminator(keras.layers.Layer):
    """One HiFi-GAN period: the audio folded into `[samples / period, period]`, 2-D convs along time.

    Args:
        period: samples per row of the folded audio.
        channels: output channels of each strided convolution.
        kernel_size, stride: along time (the period axis is kept, kernel 1).
        negative_slope: leaky-ReLU slope.
        norm: "none", "weight" or "spectral".
        **kwargs: forwarded to `keras.layers.Layer`.

    Shapes: audio `[batch, samples, 1]` -> feature maps `[batch, rows_i,
        period, channels_i]`, the last `[batch, rows, period, 1]` logits.
    """

    def __init__(
        self,
        period: int,
        channels=(16, 32, 64, 128),
        kernel_size: int = 5,
        stride: int = 3,
        negative_slope: float = 0.2,
        norm: str = "none",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.period = int(period)
        self.channels = tuple(int(c) for c in channels)
        self.kernel_size = kernel_size
        self.stride = stride
        self.negative_slope = negative_slope
        self.norm = _check_norm(norm)
        conv = lambda *a, **k: NormalizedConv2D(*a, norm=norm, padding="same", **k)  # noqa: E731
        self.convs = [
            conv(c, (kernel_size, 1), strides=(stride, 1), name=f"conv_{i}") for i, c in enumerate(self.channels)
        ]
        self.convs.append(conv(self.channels[-1], (kernel_size, 1), name="conv_out"))
        self.logits = conv(1, (3, 1), name="logits")

    def _fold(self, audio):
        samples = ops.shape(audio)[1]
        pad = (-samples) % self.period
        x = tf.pad(audio, [[0, 0], [0, pad], [0, 0]], mode="REFLECT")
        return ops.reshape(x, (ops.shape(x)[0], -1, self.period, 1))

    def build(self, input_shape):
        shape = (input_shape[0], None, self.period, 1)
        for layer in self.convs:
            layer.build(shape)
            shape = layer.compute_output_shape(shape)
        self.logits.build(shape)
        self.built = True

    def call(self, audio, training=False):
        x = self._fold(audio)
        return _feature_maps(x, self.convs, self.logits, self.negative_slope, training)

    def get_config(self):
        config = super().get_config()
        config.update(
            period=self.period,
            channels=list(self.channels),
            kernel_size=self.kernel_size,
            stride=self.stride,
            negative_slope=self.negative_slope,
            norm=self.norm,
        )
        return config


@keras.saving.register_keras_serializable(package="advaudio")
class MultiPeriodDiscriminator(keras.Model):
    """HiFi-GAN's multi-period discriminator: one `PeriodDiscriminator` per period.

    Periodic structure (pitch, frame seams every `frame_hop` samples) shows up
    as a pattern along the folded axis.

    Args:
        input_length: unused; accepted for the common factory signature.
        periods: the periods (HiFi-GAN uses primes 2, 3, 5, 7, 11 to avoid overlap).
        **period_params: `PeriodDiscriminator` arguments (channels,
            kernel_size, stride, negative_slope, norm).

    Shapes:
        call: audio `[batch, samples, 1]` -> list over periods of feature-map
        lists, each ending in logits `[batch, rows, period, 1]`.

    Example:
        >>> d = MultiPeriodDiscriminator(periods=(2, 3), channels=(4, 8))
        >>> outputs = d(keras.random.normal((2, 256, 1)))

    Reference: Kong et al., 2020, "HiFi-GAN", section 2.2.
    """

    def __init__(self, input_length: int | None = None, periods=(2, 3, 5, 7, 11), **period_params):
        base_kwargs = {k: period_params.pop(k) for k in ("name", "dtype", "trainable") if k in period_params}
        super().__init__(**base_kwargs)
        self.input_length = input_length
        self.periods = tuple(int(p) for p in periods)
        self.period_params = dict(period_params)
        self.sub_discriminators = [
            PeriodDiscriminator(p, **period_params, name=f"period_{p}") for p in self.periods
        ]

    def build(self, input_shape):
        for sub in self.sub_discriminators:
            sub.build(input_shape)
        self.built = True

    def call(self, audio, training=False):
        return [sub(audio, training=training) for sub in self.sub_discriminators]

    def get_config(self):
        config = super().get_config()
        config.update(input_length=self.input_length, periods=list(self.periods), **_as_lists(self.period_params))
        return config


# --------------------------------------------------------------------------- spectrogram


@keras.saving.register_keras_serializable(package="advaudio")
class ResolutionDiscriminator(keras.layers.Layer):
    """2-D convolutions over one STFT log-magnitude, strided along frequency.

    Args:
        fft_size, hop_length, win_length: the STFT (Hann window, centred).
        channels: output channels of each strided convolution.
        kernel_size: (time, frequency) kernel.
        freq_stride: stride along frequency.
        negative_slope: leaky-ReLU slope.
        norm: "none", "weight" or "spectral".
        **kwargs: forwarded to `keras.layers.Layer`.

    Shapes: audio `[batch, samples, 1]` -> feature maps `[batch, stft_frames,
        bins_i, channels_i]`, the last `[batch, stft_frames, bins, 1]` logits.
    """

    def __init__(
        self,
        fft_size: int = 512,
        hop_length: int = 128,
        win_length: int = 512,
        channels=(16, 16, 16),
        kernel_size=(3, 9),
        freq_stride: int = 2,
        negative_slope: float = 0.2,
        norm: str = "none",
        **kwargs,
    ):
        super().__init__(**kwargs)
        if win_length > fft_size:
            raise ValueError(f"win_length {win_length} must be <= fft_size {fft_size}")
        self.fft_size = int(fft_size)
        self.hop_length = int(hop_length)
        self.win_length = int(win_length)
        self.channels = tuple(int(c) for c in channels)
        self.kernel_size = tuple(int(k) for k in kernel_size)
        self.freq_stride = freq_stride
        self.negative_slope = negative_slope
        self.norm = _check_norm(norm)
        conv = lambda *a, **k: NormalizedConv2D(*a, norm=norm, padding="same", **k)  # noqa: E731
        self.convs = [conv(self.channels[0], self.kernel_size, name="conv_in")]
        self.convs += [
            conv(c, self.kernel_size, strides=(1, freq_stride), name=f"conv_{i}")
            for i, c in enumerate(self.channels[1:])
        ]
        self.convs.append(conv(self.channels[-1], (3, 3), name="conv_out"))
        self.logits = conv(1, (3, 3), name="logits")

    def log_magnitude(self, audio):
        """`[batch, samples, 1]` -> log(sqrt(|X|^2 + SPECTROGRAM_POWER_EPSILON) + SPECTROGRAM_LOG_EPSILON)
        `[batch, stft_frames, fft_size // 2 + 1, 1]`, |X|^2 the centred `spectrum.stft_power`."""
        power = spectrum.stft_power(audio[..., 0], self.fft_size, self.hop_length, self.win_length, center=True)
        magnitude = ops.sqrt(power + SPECTROGRAM_POWER_EPSILON)
        return ops.log(magnitude + SPECTROGRAM_LOG_EPSILON)[..., None]

    def build(self, input_shape):
        shape = (input_shape[0], None, self.fft_size // 2 + 1, 1)
        for layer in self.convs:
            layer.build(shape)
            shape = layer.compute_output_shape(shape)
        self.logits.build(shape)
        self.built = True

    def call(self, audio, training=False):
        x = self.log_magnitude(audio)
        return _feature_maps(x, self.convs, self.logits, self.negative_slope, training)

    def get_config(self):
        config = super().get_config()
        config.update(
            fft_size=self.fft_size,
            hop_length=self.hop_length,
            win_length=self.win_length,
            channels=list(self.channels),
            kernel_size=list(self.kernel_size),
            freq_stride=self.freq_stride,
            negative_slope=self.negative_slope,
            norm=self.norm,
        )
        return config


@keras.saving.register_keras_serializable(package="advaudio")
class SpectrogramDiscriminator(keras.Model):
    """A multi-resolution spectrogram discriminator: one `ResolutionDiscriminator` per STFT.

    Several resolutions trade time for frequency detail, so no single STFT's
    blind spot (pre-echo, smeared harmonics) goes unjudged.

    Args:
        input_length: unused; accepted for the common factory signature.
        resolutions: `(fft_size, hop_length, win_length)` per sub-discriminator.
        **resolution_params: `ResolutionDiscriminator` arguments (channels,
            kernel_size, freq_stride, negative_slope, norm).

    Shapes:
        call: audio `[batch, samples, 1]` -> list over resolutions of
        feature-map lists, each ending in logits `[batch, stft_frames, bins, 1]`.

    Example:
        >>> d = SpectrogramDiscriminator(resolutions=((64, 16, 64),), channels=(4, 4))
        >>> outputs = d(keras.random.normal((2, 256, 1)))

    Reference: Jang et al., 2021, "UnivNet" (multi-resolution spectrogram
    discriminator); Kumar et al., 2023, "DAC".
    """

    def __init__(
        self,
        input_length: int | None = None,
        resolutions=((1024, 256, 1024), (512, 128, 512), (256, 64, 256)),
        **resolution_params,
    ):
        base_kwargs = {k: resolution_params.pop(k) for k in ("name", "dtype", "trainable") if k in resolution_params}
        super().__init__(**base_kwargs)
        self.input_length = input_length
        self.resolutions = tuple(tuple(int(v) for v in r) for r in resolutions)
        self.resolution_params = dict(resolution_params)
        self.sub_discriminators = [
            ResolutionDiscriminator(fft, hop, win, **resolution_params, name=f"stft_{fft}_{hop}_{win}")
            for fft, hop, win in self.resolutions
        ]

    def build(self, input_shape):
        for sub in self.sub_discriminators:
            sub.build(input_shape)
        self.built = True

    def call(self, audio, training=False):
        return [sub(audio, training=training) for sub in self.sub_discriminators]

    def get_config(self):
        config = super().get_config()
        config.update(
            input_length=self.input_length,
            resolutions=[list(r) for r in self.resolutions],
            **_as_lists(self.resolution_params),
        )
        return config


# --------------------------------------------------------------------------- registry


@DISCRIMINATORS.register("frame_mlp", check=accepted_params(FrameMLPDiscriminator))
def build_frame_mlp(input_length: int, **params) -> FrameMLPDiscriminator:
    """`FrameMLPDiscriminator(input_length, **params)`."""
    return FrameMLPDiscriminator(input_length=input_length, name="frame_mlp", **params)


@DISCRIMINATORS.register("waveform", check=accepted_params(WaveformDiscriminator, ScaleDiscriminator))
def build_waveform(input_length: int, **params) -> WaveformDiscriminator:
    """`WaveformDiscriminator(**params)` (MelGAN multi-scale)."""
    return WaveformDiscriminator(input_length=input_length, name="waveform", **params)


@DISCRIMINATORS.register(
    "multi_period",
    check=accepted_params(MultiPeriodDiscriminator, PeriodDiscriminator, skip=("self", "input_length", "period")),
)
def build_multi_period(input_length: int, **params) -> MultiPeriodDiscriminator:
    """`MultiPeriodDiscriminator(**params)` (HiFi-GAN)."""
    return MultiPeriodDiscriminator(input_length=input_length, name="multi_period", **params)


@DISCRIMINATORS.register(
    "spectrogram",  # each resolution's fft_size, hop_length, win_length come from `resolutions`
    check=accepted_params(SpectrogramDiscriminator, ResolutionDiscriminator,
                          skip=("self", "input_length", "fft_size", "hop_length", "win_length")),
)
def build_spectrogram(input_length: int, **params) -> SpectrogramDiscriminator:
    """`SpectrogramDiscriminator(**params)` (multi-resolution STFT)."""
    return SpectrogramDiscriminator(input_length=input_length, name="spectrogram", **params)


def build_discriminator(name_or_factory, input_length: int, **params) -> keras.Model:
    """Builds a discriminator by registry name or from a user callable, and builds its weights.

    Args:
        name_or_factory: a name in `registry.DISCRIMINATORS`, or a callable
            `(input_length, **params) -> keras.Model` honouring the contract
            (see the module docstring).
        input_length: samples per discriminator example.
        **params: the config's `discriminator_params`.

    Returns:
        the model, built for `[None, input_length, 1]` inputs.

    Raises:
        KeyError: an unknown name (the message lists the valid ones).
        TypeError: the model breaks the output contract.
    """
    model = DISCRIMINATORS.build(name_or_factory, input_length, **params)
    outputs = model(ops.zeros((1, input_length, 1)))
    check_contract(outputs)
    return model


def check_contract(outputs) -> None:
    """Raises TypeError unless `outputs` is a non-empty list of non-empty feature-map lists."""
    if not isinstance(outputs, (list, tuple)) or not outputs:
        raise TypeError(
            "a discriminator must return a list over sub-discriminators, each a list of feature maps "
            f"whose last item is the logits; got {type(outputs).__name__}"
        )
    for i, sub in enumerate(outputs):
        if not isinstance(sub, (list, tuple)) or not sub:
            raise TypeError(
                f"sub-discriminator {i} returned {type(sub).__name__}; expected a non-empty list of feature "
                "maps whose last item is the logits"
            )
