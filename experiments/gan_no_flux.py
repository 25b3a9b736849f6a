"""Denoising GAN without spec/flux: the flagship (experiments/gan_denoise.py) until the tenth session, i.e. the
flagship without the term that asks for the data's attacks.

Hypothesis: without a term on the distribution of onset-strength values the generator makes no attacks. Measured
(README, ninth and tenth sessions): on machine_wars.mp3 this recipe and its frame-term variants (gan_overlap,
gan_position_power, gan_overlap_power) made 0.03-0.05x the music's onsets; with spec/flux (the flagship since
the tenth session) three seeds made 1.68-2.27x, with flatness 0.96-1.61x, pitch 1.02-1.05, seams 0.91-1.00
and frame repetition 0.13-0.36 (this recipe, sixth session: flatness 0.68-0.95, pitch 0.82-1.03, seams
0.93-1.74, repetition 0.22-0.80). On the default drone, which has no attacks, spec/flux stays near 0 and
the two recipes differ by their seeds. Everything else is the flagship's (its docstring explains each part),
so a compare against gan_denoise runs isolates spec/flux.

Run: python -m advaudio.run experiments/gan_no_flux.py
Smoke: python -m advaudio.run experiments/gan_no_flux.py --smoke
"""
from advaudio.config import Adversarial, Data, Experiment, Model, Objective, Train

FRAME_HOP = 2000  # half of the default frame of 4000 samples: 50% overlap, stitched by overlap-add
NOISE_DIM = 16  # standard-normal values per frame concatenated to the generator's input
LAYER_NOISE = True  # plus standard-normal noise on every layer's output, times a learned per-unit scale
# The spectral energy distance on the rollout plus both adversarial terms.
LOSS_WEIGHTS = {"spec/energy": 1.0, "adv/gen": 1.0, "adv/feat": 2.0}
# The energy's spectrograms judge a random 1 s run of 4 of the 8 rollout frames per sequence each step
# (Parallel WaveGAN trains on ~1 s segments too), which keeps the step affordable on a CPU (README,
# benchmarks/gan.py). Validation measures whole sequences.
STFT = {"segment_frames": 4}
FREE_RUN_PREFIX = 10  # true frames the rollout starts from
FREE_RUN_STEPS = 8  # frames unrolled on the generator's own predictions (the loss sees these)


def get_config() -> Experiment:
    # The flagship's config (experiments/gan_denoise.py) without spec/flux. The data set, model size, budget
    # and generation are the defaults, i.e. those of mse_baseline, so runs
    # compare step for step (the frames overlap here); the Adversarial defaults are this experiment's: least
    # squares, D on 2 stitched frames, noise negatives on (noisy 0-20 dB SNR and loudness-matched noise),
    # D after 300 steps.
    return Experiment(
        name="gan_no_flux",
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
