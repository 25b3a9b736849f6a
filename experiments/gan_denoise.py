"""Denoising GAN (the flagship): a waveform discriminator learns to tell real audio from the generator's and from noise.

Hypothesis: the MR-STFT terms alone (experiments/spectral.py) get the spectrum
roughly right but leave a noisy, buzzy texture, because a magnitude loss does
not care whether the fine structure is periodic or noise-like. A MelGAN
multi-scale waveform discriminator that is also shown noise negatives (real
audio with noise added at 0-20 dB SNR, and pure noise matched in loudness)
learns exactly "noise versus real audio" -- what the 2016 author asked for --
and its adversarial and feature-matching terms push the generator away from
noisy output: samples should sound cleaner and more tonal than the spectral
run, with fewer clicks at frame seams (D judges 2 stitched frames at a time).
D switches on after 300 reconstruction-only steps. Compare with
`python -m advaudio.compare` against mse_baseline and spectral runs; watch
d/acc_noise (D must keep rejecting noise) and d/win (0.5 is the equilibrium).

Run: python -m advaudio.run experiments/gan_denoise.py
Smoke: python -m advaudio.run experiments/gan_denoise.py --smoke
Plain GAN (no noise negatives):
     python -m advaudio.run experiments/gan_denoise.py --set objective.adversarial.noisy_share=0.0 --set objective.adversarial.noise_share=0.0
"""
from advaudio.config import Adversarial, Data, Experiment, Generate, Model, Objective, Train

# The MR-STFT resolutions of experiments/spectral.py (Parallel WaveGAN's).
STFT = {"fft_sizes": (1024, 2048, 512), "hop_lengths": (120, 240, 50), "win_lengths": (600, 1200, 240)}


def get_config() -> Experiment:
    return Experiment(
        name="gan_denoise",
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
                discriminator="waveform",
                # MelGAN's layout, narrowed (MelGAN: 16 -> 1024 channels, kernel 41, groups 4) to keep
                # the step affordable; grouped convolutions have no CPU kernel in TensorFlow (the XLA
                # fallback is ~25x slower), so groups=1 here -- raise channels and groups on a GPU.
                discriminator_params={
                    "scales": 3,
                    "channels": 8,
                    "max_channels": 64,
                    "downsample_factors": (4, 4, 4),
                    "kernel_size": 21,
                    "groups": 1,
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
