"""Denoising GAN with a multi-resolution spectrogram discriminator.

Hypothesis: 2-D convolutions over log-magnitude STFTs at three resolutions
judge exactly what noise changes -- the spectral envelope between harmonics
and its flatness -- so D separates noise negatives fastest (d/acc_noise near 1
early) and the generator's output gets a cleaner spectrum; but being blind to
phase it may let phasey or smeared transients through, unlike the waveform
discriminator of experiments/gan_teacher_forced.py. Everything else is gan_teacher_forced's.

Run: python -m advaudio.run experiments/gan_spectrogram.py
Smoke: python -m advaudio.run experiments/gan_spectrogram.py --smoke
"""
from advaudio.config import Adversarial, Experiment, Objective

LOSS_WEIGHTS = {"spec/sc": 1.0, "spec/logmag": 1.0, "adv/gen": 1.0, "adv/feat": 2.0}  # as gan_teacher_forced
STFT = {"segment_frames": 4}  # as gan_teacher_forced: MR-STFT on a random 1 s run of frames per sequence


def get_config() -> Experiment:
    return Experiment(
        name="gan_spectrogram",
        objective=Objective(
            name="gan_denoise",
            loss_weights=LOSS_WEIGHTS,
            stft=STFT,
            adversarial=Adversarial(
                discriminator="spectrogram",
                # (fft_size, hop_length, win_length) per sub-discriminator, UnivNet-like.
                discriminator_params={
                    "resolutions": ((1024, 256, 1024), (512, 128, 512), (256, 64, 256)),
                    "channels": (8, 8, 8),
                },
            ),
        ),
    )
