"""Denoising GAN with a user-defined discriminator, written here in the experiment file.

Hypothesis: the clicks at frame seams are the 2016 model's most audible flaw,
and a click is a burst in the first difference of the waveform. A small
discriminator that judges the first difference (a high-pass view) of 2
stitched frames, over a short receptive field, should be the sharpest judge of
seams: expect fewer seam clicks than experiments/gan_teacher_forced.py, with less
effect on the overall tone.

How to plug in your own discriminator: write a callable
`(input_length, **discriminator_params) -> keras.Model` whose
`call(audio [batch, samples, 1])` returns a list over sub-discriminators, each
a list of feature maps whose LAST item is the logits (advaudio.discriminators
documents the contract; `build_discriminator` checks it), and set
`objective.adversarial.discriminator` to it. A resumed run re-imports this
file, so the class needs no registration.

Run: python -m advaudio.run experiments/custom_discriminator.py
Smoke: python -m advaudio.run experiments/custom_discriminator.py --smoke
"""
import keras

from advaudio.config import Adversarial, Experiment, Objective


class SeamDiscriminator(keras.Model):
    """Strided 1-D convolutions over the first difference of the audio.

    Args:
        input_length: samples per example (unused: any length works).
        channels: channels of each strided convolution.
        kernel_size: taps of each convolution (short: seams are local).
        stride: stride of each convolution.

    Shapes: audio `[batch, samples, 1]` -> `[[h_1, ..., logits [batch, steps, 1]]]`.
    """

    def __init__(self, input_length=None, channels=(16, 32, 32), kernel_size=9, stride=4, **kwargs):
        super().__init__(**kwargs)
        self.input_length = input_length
        self.channels = tuple(channels)
        self.kernel_size = kernel_size
        self.stride = stride
        self.convs = [
            keras.layers.Conv1D(c, kernel_size, strides=stride, padding="same", name=f"conv_{i}")
            for i, c in enumerate(channels)
        ]
        self.logits = keras.layers.Conv1D(1, 3, padding="same", name="logits")

    def call(self, audio, training=False):
        x = audio[:, 1:] - audio[:, :-1]  # the first difference: clicks stand out, slow tone fades
        features = []
        for conv in self.convs:
            x = keras.ops.leaky_relu(conv(x), negative_slope=0.2)
            features.append(x)
        return [features + [self.logits(x)]]

    def get_config(self):
        config = super().get_config()
        config.update(
            input_length=self.input_length, channels=list(self.channels), kernel_size=self.kernel_size, stride=self.stride
        )
        return config


def seam_discriminator(input_length, **params) -> keras.Model:
    return SeamDiscriminator(input_length=input_length, name="seam", **params)


LOSS_WEIGHTS = {"spec/sc": 1.0, "spec/logmag": 1.0, "adv/gen": 1.0, "adv/feat": 2.0}  # as gan_teacher_forced
STFT = {"segment_frames": 4}  # as gan_teacher_forced: MR-STFT on a random 1 s run of frames per sequence


def get_config() -> Experiment:
    return Experiment(
        name="custom_discriminator",
        objective=Objective(
            name="gan_denoise",
            loss_weights=LOSS_WEIGHTS,
            stft=STFT,
            adversarial=Adversarial(
                discriminator=seam_discriminator,  # a callable, not a registry name
                discriminator_params={"channels": (16, 32, 32), "kernel_size": 9, "stride": 4},
            ),
        ),
    )
