"""Denoising GAN with the simplest judge: an MLP over one whole frame.

Hypothesis: a frame MLP sees every sample of a frame at once but has no
notion of local structure or scale, so it learns to reject noise
(d/acc_noise high) yet gives the generator a cruder signal than the
multi-scale waveform discriminator of experiments/gan_denoise.py: expect
samples between the spectral run and gan_denoise in cleanliness. It judges
single frames (input "frames"), so it cannot hear seams: expect more clicks
at frame boundaries than gan_denoise. Everything else is gan_denoise's.

Run: python -m advaudio.run experiments/gan_frame_mlp.py
Smoke: python -m advaudio.run experiments/gan_frame_mlp.py --smoke
"""
from advaudio.config import Adversarial, Data, Experiment, Generate, Model, Objective, Train

# The MR-STFT reconstruction of experiments/gan_denoise.py (Parallel WaveGAN's resolutions).
STFT = {"fft_sizes": (1024, 2048, 512), "hop_lengths": (120, 240, 50), "win_lengths": (600, 1200, 240)}


def get_config() -> Experiment:
    return Experiment(
        name="gan_frame_mlp",
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
                discriminator="frame_mlp",
                # Spectral norm keeps a wide first layer (4000 inputs) from overpowering the generator.
                discriminator_params={"hidden_units": (256, 64), "norm": "spectral"},
                loss="least_squares",
                input="frames",
                stitched_frames=2,
                real_share=1.0,
                fake_share=1.0,
                noisy_share=0.5,
                noise_share=0.5,
                snr_db=(0.0, 20.0),
                d_steps=1,
                d_start_step=300,
                d_examples=64,
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
