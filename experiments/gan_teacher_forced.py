"""The denoising GAN teacher-forced and deterministic: the flagship's recipe until 2026-12-02, kept as a comparison.

Hypothesis: the MR-STFT terms alone (experiments/spectral.py) get the spectrum
roughly right but leave a noisy, buzzy texture, because a magnitude loss does
not care whether the fine structure is periodic or noise-like. A MelGAN
multi-scale waveform discriminator that is also shown noise negatives (real
audio with noise added at 0-20 dB SNR, and pure noise matched in loudness)
learns "noise versus real audio" -- what the 2016 author asked for -- and
its adversarial and feature-matching terms push the generator away from
noisy output. Trained on true frames only (teacher forcing) and without a
noise input, the generator has one next frame for each past; fed its own
output it froze into one repeated frame on the default data (frame
repetition 1.00, seam ratio 4.05, README "Measured on the default data").
That failure is why the flagship (experiments/gan_denoise.py) now takes
noise and trains on its own rollouts; this file is the row that shows it.

Run: python -m advaudio.run experiments/gan_teacher_forced.py
Smoke: python -m advaudio.run experiments/gan_teacher_forced.py --smoke
"""
from advaudio.config import Adversarial, Experiment, Objective, Train

# MR-STFT reconstruction (Parallel WaveGAN's resolutions, objective.stft's defaults) plus both adversarial terms.
LOSS_WEIGHTS = {"spec/sc": 1.0, "spec/logmag": 1.0, "adv/gen": 1.0, "adv/feat": 2.0}
# The MR-STFT terms judge a random 1 s run of 4 stitched frames per sequence each step (Parallel WaveGAN
# trains on ~1 s segments too): 16 s of audio per step instead of 200 s, which keeps the step under 3x the
# MSE step on a CPU (README, benchmarks/gan.py). Validation measures whole sequences.
# Whole sequences in training: --set "objective.stft={'segment_frames': None}" (5.7x MSE per step).
STFT = {"segment_frames": 4}


def get_config() -> Experiment:
    # Data, model, budget and generation are the defaults, i.e. those of mse_baseline, so runs compare
    # step for step; the Adversarial defaults: least squares, D on 2 stitched frames, noise negatives on
    # (noisy 0-20 dB SNR and loudness-matched noise), D after 300 steps.
    return Experiment(
        name="gan_teacher_forced",
        train=Train(best_by="gen/composite"),  # best checkpoint by the per-epoch generation check, not val_loss
        objective=Objective(
            name="gan_denoise",
            loss_weights=LOSS_WEIGHTS,
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
            ),
        ),
    )
