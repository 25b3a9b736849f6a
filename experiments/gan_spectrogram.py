"""Denoising GAN with a multi-resolution spectrogram discriminator.

Hypothesis: 2-D convolutions over log-magnitude STFTs at three resolutions
judge exactly what noise changes -- the spectral envelope between harmonics
and its flatness -- so D separates noise negatives fastest (d/acc_noise near 1
early) and the generator's output gets a cleaner spectrum; but being blind to
phase it may let phasey or smeared transients through, unlike the waveform
discriminator of experiments/gan_denoise.py. Everything else is gan_denoise's.

Run: python -m advaudio.run experiments/gan_spectrogram.py
Smoke: python -m advaudio.run experiments/gan_spectrogram.py --smoke
"""
from advaudio.config import Adversarial, Data, Experiment, Generate, Model, Objective, Train

# The MR-STFT reconstruction of experiments/gan_denoise.py (Parallel WaveGAN's resolutions).
STFT = {"fft_sizes": (1024, 2048, 512), "hop_lengths": (120, 240, 50), "win_lengths": (600, 1200, 240)}


def get_config() -> Experiment:
    return Experiment(
        name="gan_spectrogram",
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
                discriminator="spectrogram",
                # (fft_size, hop_length, win_length) per sub-discriminator, UnivNet-like.
                discriminator_params={
                    "resolutions": ((1024, 256, 1024), (512, 128, 512), (256, 64, 256)),
                    "channels": (8, 8, 8),
                },
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
                d_examples=16,
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
