"""Denoising GAN with HiFi-GAN's multi-period discriminator.

Hypothesis: folding the audio by periods 2, 3, 5, 7 and 11 exposes periodic
structure -- pitch and its harmonics -- that a noise-like texture lacks, so
this discriminator should push hardest towards clean, tonal output on the
drone-like default material; it is also the family most likely to hear a
regular click every frame (seams are periodic). Expect cleaner harmonics than
experiments/gan_denoise.py, possibly a narrower pitch range. Everything else
is gan_denoise's.

Run: python -m advaudio.run experiments/gan_multi_period.py
Smoke: python -m advaudio.run experiments/gan_multi_period.py --smoke
"""
from advaudio.config import Adversarial, Data, Experiment, Generate, Model, Objective, Train

# The MR-STFT reconstruction of experiments/gan_denoise.py (Parallel WaveGAN's resolutions).
STFT = {"fft_sizes": (1024, 2048, 512), "hop_lengths": (120, 240, 50), "win_lengths": (600, 1200, 240)}


def get_config() -> Experiment:
    return Experiment(
        name="gan_multi_period",
        data=Data(
            source="default",
            sample_rate=16000,
            frame_length=4000,
            sequence_length=50,
            window_shift=1000,
            batch_size=16,
            normalization="standard",
        ),
        model=Model(cell="gru", layers=2, units=256),
        objective=Objective(
            name="gan_denoise",
            loss_weights={"spec/sc": 1.0, "spec/logmag": 1.0, "adv/gen": 1.0, "adv/feat": 2.0},
            stft=STFT,
            adversarial=Adversarial(
                discriminator="multi_period",
                # HiFi-GAN's periods; channels narrowed (HiFi-GAN: 32, 128, 512, 1024) for speed.
                discriminator_params={"periods": (2, 3, 5, 7, 11), "channels": (8, 16, 32, 64), "norm": "weight"},
                loss="least_squares",
                input="stitched",
                stitched_frames=2,
                real_share=1.0,
                fake_share=1.0,
                noisy_share=0.5,
                noise_share=0.5,
                snr_db=(0.0, 20.0),
                d_steps=1,
                d_start_step=300,
                d_examples=8,
                d_learning_rate=2e-4,
                d_beta_1=0.5,
                d_beta_2=0.9,
                d_clipnorm=10.0,
            ),
        ),
        # Same budget as the MSE baseline so the runs compare step for step.
        train=Train(epochs=8, steps_per_epoch=150, validation_steps=20, learning_rate=1e-3, clipnorm=1.0),
        generate=Generate(seconds=30.0, count=2, stitch="auto", seed_frames=10, seed_from="valid"),
    )
