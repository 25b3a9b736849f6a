"""Denoising GAN with HiFi-GAN's multi-period discriminator.

Hypothesis: folding the audio by periods 2, 3, 5, 7 and 11 exposes periodic
structure -- pitch and its harmonics -- that a noise-like texture lacks, so
this discriminator should push hardest towards clean, tonal output on the
drone-like default material; it is also the family most likely to hear a
regular click every frame (seams are periodic). Expect cleaner harmonics than
experiments/gan_teacher_forced.py, possibly a narrower pitch range. Everything else
is gan_teacher_forced's.

Run: python -m advaudio.run experiments/gan_multi_period.py
Smoke: python -m advaudio.run experiments/gan_multi_period.py --smoke
"""
from advaudio.config import Adversarial, Experiment, Objective

LOSS_WEIGHTS = {"spec/sc": 1.0, "spec/logmag": 1.0, "adv/gen": 1.0, "adv/feat": 2.0}  # as gan_teacher_forced
STFT = {"segment_frames": 4}  # as gan_teacher_forced: MR-STFT on a random 1 s run of frames per sequence


def get_config() -> Experiment:
    return Experiment(
        name="gan_multi_period",
        objective=Objective(
            name="gan_denoise",
            loss_weights=LOSS_WEIGHTS,
            stft=STFT,
            adversarial=Adversarial(
                discriminator="multi_period",
                # HiFi-GAN's periods; channels narrowed (HiFi-GAN: 32, 128, 512, 1024) for speed.
                discriminator_params={"periods": (2, 3, 5, 7, 11), "channels": (8, 16, 32, 64), "norm": "weight"},
                d_examples=8,
            ),
        ),
    )
