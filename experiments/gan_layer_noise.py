"""Denoising GAN with per-layer noise: the flagship (experiments/gan_denoise.py) plus StyleGAN's noise inputs on
every recurrent layer (model.layer_noise).

Hypothesis: the flagship's noise enters only with the input frame (16 values per
frame, model.noise_dim), and one of its seeds still froze into a repeated frame
(README, "2026-12-02, the flagship recipe": frame repetition 0.99) while the
other kept a hiss (flatness 4.5x the data's). StyleGAN (Karras et al. 2019)
adds fresh noise to every layer's features, each channel scaled by a learned
weight that starts at zero, so that the stochastic detail lives where the
network decides and the upper layers cannot average one input noise away.
Here every GRU layer's output on its way up (to the next layer and the head)
gets N(0, 1) per unit times a learned per-unit scale; the recurrent state
stays clean, so the recurrence and the cuDNN path are unchanged. Expect, in
`python -m advaudio.compare` against gan_denoise runs of the same seeds, a
frame repetition that stays low in every seed, and watch energy/repulsive
(the two generations of the energy term differ more once the scales grow).
Everything else is the flagship's, so the difference is the layer noise alone.

Run: python -m advaudio.run experiments/gan_layer_noise.py
Smoke: python -m advaudio.run experiments/gan_layer_noise.py --smoke
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
    # The flagship's config (experiments/gan_denoise.py) with model.layer_noise on; nothing else differs.
    return Experiment(
        name="gan_layer_noise",
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
