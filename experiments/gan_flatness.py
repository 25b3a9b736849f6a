"""Denoising GAN with spec/flatness: the flagship (experiments/gan_denoise.py) plus a term that asks the output's
spectrogram frames for the data's spread of spectral flatness.

Hypothesis: the flagship's hiss is a broadband floor that no term prices. On the default drone (partials ~50 dB over
a faint noise floor) three seeds of the flagship read 4.1-5.6x the data's flatness (README, tenth session) and the
generation temperature does not lower it (the floor is learned). The MR-STFT distances in spec/energy weigh a bin
50 dB down like any other, and the discriminator's noise negatives only teach it loud noise. spec/flatness is the
1-D Wasserstein distance between the log flatness (geometric over arithmetic mean of a frame's power spectrum;
the flatness metric's 2048-sample frames) of the output's frames and the data's, compared as sorted values, so a
tonal sound asks for tonal frames and music with noisy drums keeps its noisy frames. Everything else is the
flagship's, so a compare against gan_denoise runs isolates the term.
Measured (README, eleventh to thirteenth sessions; three seeds per data set, means and 95% intervals): on the
default data, flatness 1.71 +- 0.73x the data's (seeds 1.66, 1.44, 2.02; the flagship's 4.94 +- 1.90), seams 1.05,
frame repetition 0.41 (-0.02, 0.71, 0.55), KID 3.13 and FD-inf 1963 (the flagship's 2.75 and 1519); on
machine_wars.mp3, flatness 0.93, pitch 0.97 (1.05, 1.05, 0.80), onset rate 1.80, but seams 1.69 (one seed 2.86),
repetition 0.46 and pulse 8.3 dB, each worse than the flagship's (0.96, 0.26, 7.3 dB). It fixes the drone's hiss
and costs seams and repetition on music, so it is a comparison, not the flagship.

Run: python -m advaudio.run experiments/gan_flatness.py
Smoke: python -m advaudio.run experiments/gan_flatness.py --smoke
"""
from advaudio.config import Adversarial, Data, Experiment, Model, Objective, Train

FRAME_HOP = 2000  # half of the default frame of 4000 samples: 50% overlap, stitched by overlap-add
NOISE_DIM = 16  # standard-normal values per frame concatenated to the generator's input
LAYER_NOISE = True  # plus standard-normal noise on every layer's output, times a learned per-unit scale
# The spectral energy distance on the rollout, both adversarial terms and spec/flux: about 1 between
# machine_wars.mp3 and gan_overlap's samples on it (0.16 between two draws of the music's own 1.1 s windows);
# at weight 2 it adds about 2 to a loss whose spec/energy is 5-10.
# The flagship's terms plus spec/flatness at weight 1 (untuned): on the default drone its value would be about
# 1.6 nats for output at 5x the data's flatness (log 5), against a loss whose spec/energy is about 5.
LOSS_WEIGHTS = {"spec/energy": 1.0, "adv/gen": 1.0, "adv/feat": 2.0, "spec/flux": 2.0, "spec/flatness": 1.0}
# The energy's spectrograms judge a random 1 s run of 4 of the 8 rollout frames per sequence each step
# (Parallel WaveGAN trains on ~1 s segments too), which keeps the step affordable on a CPU (README,
# benchmarks/gan.py). Validation measures whole sequences.
STFT = {"segment_frames": 4}
FREE_RUN_PREFIX = 10  # true frames the rollout starts from
FREE_RUN_STEPS = 8  # frames unrolled on the generator's own predictions (the loss sees these)


def get_config() -> Experiment:
    # The flagship's config (experiments/gan_denoise.py) with spec/flatness added; nothing else differs.
    return Experiment(
        name="gan_flatness",
        data=Data(frame_hop=FRAME_HOP),
        model=Model(noise_dim=NOISE_DIM, layer_noise=LAYER_NOISE),
        train=Train(best_by="gen/composite"),  # best checkpoint by the per-epoch generation check, not val_loss
        objective=Objective(
            name="gan_denoise",
            loss_weights=LOSS_WEIGHTS,
            stft=STFT,
            regime="free_running",
            free_run_prefix=FREE_RUN_PREFIX,
            free_run_steps=FREE_RUN_STEPS,
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
