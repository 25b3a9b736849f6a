"""Denoising GAN with both frame terms: the ninth session's flagship (experiments/gan_no_flux.py) plus rec/overlap
(consecutive frames agree where they overlap) and rec/position_power (every sample position of a frame is as loud
as the data's).

Hypothesis: the pulse at the frame rate has two measured causes, one term each (README, eighth session). Each
frame position has a loudness of its own (the frames' 40-bin power profile 0.55-1.81 of its mean, the data's flat),
which rec/position_power flattened on its own (central hops 1.4 dB) while the stitched output still pulsed (4.0 dB)
through the cross-fade of overlapping halves that disagree; rec/overlap on its own lowered that disagreement and
the pulse (4.5 -> 3.3 dB) but left the frames' own profile. Trained together, neither cause is left. The weights
are the ones each term was measured with alone, so the three experiments compare directly.

Measured (README, "Measured on the default data", ninth session), one seed per data set: on the default data the
lowest pulse of any generator so far (hop_pulse_db 2.54 against the flagship's 4.45 and gan_overlap's 3.34) and
the lowest flatness (3.26x), frame repetition 0.47 (the flagship's 0.31). On machine_wars.mp3 it pulses less than
the music (3.81 against 5.98 dB) but has the worst seams (1.52) and repetition (0.61) of the flagship's variants.

Run: python -m advaudio.run experiments/gan_overlap_power.py
Smoke: python -m advaudio.run experiments/gan_overlap_power.py --smoke
"""
from advaudio.config import Adversarial, Data, Experiment, Model, Objective, Train

FRAME_HOP = 2000  # half of the default frame of 4000 samples: 50% overlap, stitched by overlap-add
NOISE_DIM = 16  # standard-normal values per frame concatenated to the generator's input
LAYER_NOISE = True  # plus standard-normal noise on every layer's output, times a learned per-unit scale
# The flagship's terms plus both frame terms at the weights each was measured with alone (gan_overlap.py,
# gan_position_power.py): rec/overlap about 1 for the flagship's rollouts, rec/position_power about 0.1; together
# they add about 3 to a loss whose spec/energy is about 5.
LOSS_WEIGHTS = {
    "spec/energy": 1.0,
    "adv/gen": 1.0,
    "adv/feat": 2.0,
    "rec/overlap": 2.0,
    "rec/position_power": 10.0,
}
# The energy's spectrograms judge a random 1 s run of 4 of the 8 rollout frames per sequence each step
# (Parallel WaveGAN trains on ~1 s segments too), which keeps the step affordable on a CPU (README,
# benchmarks/gan.py). Validation measures whole sequences.
STFT = {"segment_frames": 4}
FREE_RUN_PREFIX = 10  # true frames the rollout starts from
FREE_RUN_STEPS = 8  # frames unrolled on the generator's own predictions (the loss sees these)


def get_config() -> Experiment:
    # gan_no_flux's config (the flagship until the tenth session) with both frame terms added; nothing else differs.
    return Experiment(
        name="gan_overlap_power",
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
