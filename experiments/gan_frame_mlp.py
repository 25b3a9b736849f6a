"""Denoising GAN with the simplest judge: an MLP over one whole frame.

Hypothesis: a frame MLP sees every sample of a frame at once but has no
notion of local structure or scale, so it learns to reject noise
(d/acc_noise high) yet gives the generator a cruder signal than the
multi-scale waveform discriminator of experiments/gan_teacher_forced.py: expect
samples between the spectral run and gan_teacher_forced in cleanliness. It judges
single frames (input "frames"), so it cannot hear seams: expect more clicks
at frame boundaries than gan_teacher_forced. Everything else is gan_teacher_forced's.

Run: python -m advaudio.run experiments/gan_frame_mlp.py
Smoke: python -m advaudio.run experiments/gan_frame_mlp.py --smoke
"""
from advaudio.config import Adversarial, Experiment, Objective

LOSS_WEIGHTS = {"spec/sc": 1.0, "spec/logmag": 1.0, "adv/gen": 1.0, "adv/feat": 2.0}  # as gan_teacher_forced
STFT = {"segment_frames": 4}  # as gan_teacher_forced: MR-STFT on a random 1 s run of frames per sequence


def get_config() -> Experiment:
    return Experiment(
        name="gan_frame_mlp",
        objective=Objective(
            name="gan_denoise",
            loss_weights=LOSS_WEIGHTS,
            stft=STFT,
            adversarial=Adversarial(
                discriminator="frame_mlp",
                # Spectral norm keeps a wide first layer (4000 inputs) from overpowering the generator.
                discriminator_params={"hidden_units": (256, 64), "norm": "spectral"},
                input="frames",
                d_examples=64,
            ),
        ),
    )
