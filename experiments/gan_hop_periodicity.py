"""Denoising GAN with rec/hop_periodicity: the flagship (experiments/gan_denoise.py) plus a term that prices
output whose hops repeat one waveform.

Hypothesis: a frame model fed its own output settles on tones whose frequencies are multiples of sample_rate /
frame_hop (8 Hz at 16 kHz with frames every 2000 samples): such a tone repeats exactly every hop, so a frame
continues itself with no phase to carry. Measured (README, thirteenth session) on the 30 s samples of the
eleventh and twelfth sessions' runs: every strong spectral peak sits on a multiple of 8 Hz (96, 104, 144, 160
Hz... on the drone, whose partials are at 123.5, 185, 246.9 and 370 Hz), and 30-80% of the power repeats every
hop in windows of 8 hops where the data's is 5-19% (`metrics.hop_periodicity`). That one failure reads as a
wrong pitch, as energy between and under the data's partials (the MFCC gap) and as a pulse at the frame rate.
The spec/* terms' spectrograms (2048 samples and shorter: 7.8 Hz bins or wider) cannot tell 120 Hz from 123.5
Hz. rec/hop_periodicity is max(0, mean share(output) - mean share(data)) over the batch, share = the power of
the mean hop of a stitched sequence over the mean power of its hops (`losses.hop_periodicity_share`).
Everything else is the flagship's, so a compare against gan_denoise runs isolates the term.
Measured (README, thirteenth session), one seed per data set: hop_periodicity at the data's level (0.06 against
0.05 on the drone, 0.14 against 0.17 on machine_wars.mp3), drone KID 1.56 and FD-inf 1089 (2.6x and 3.5x real
audio's; the flagship's 4-5.5x), frame repetition -0.29 and 0.02, pulse 4.2 and 6.0 dB; costs: drone flatness
8.35x (the flagship's 4.94x), music pitch 1.12 and onset rate 2.24.

Run: python -m advaudio.run experiments/gan_hop_periodicity.py
Smoke: python -m advaudio.run experiments/gan_hop_periodicity.py --smoke
"""
from advaudio.config import Adversarial, Data, Experiment, Model, Objective, Train

FRAME_HOP = 2000  # half of the default frame of 4000 samples: 50% overlap, stitched by overlap-add
NOISE_DIM = 16  # standard-normal values per frame concatenated to the generator's input
LAYER_NOISE = True  # plus standard-normal noise on every layer's output, times a learned per-unit scale
# The spectral energy distance on the rollout, both adversarial terms and spec/flux: about 1 between
# machine_wars.mp3 and gan_overlap's samples on it (0.16 between two draws of the music's own 1.1 s windows);
# at weight 2 it adds about 2 to a loss whose spec/energy is 5-10.
# The flagship's terms plus rec/hop_periodicity at weight 5 (untuned): the runs measured put 0.2-0.6 more of
# their power in the repeated hop than the data, so it adds 1-3 to a loss whose spec/energy is 5-10.
LOSS_WEIGHTS = {"spec/energy": 1.0, "adv/gen": 1.0, "adv/feat": 2.0, "spec/flux": 2.0, "rec/hop_periodicity": 5.0}
# The energy's spectrograms judge a random 1 s run of 4 of the 8 rollout frames per sequence each step
# (Parallel WaveGAN trains on ~1 s segments too), which keeps the step affordable on a CPU (README,
# benchmarks/gan.py). Validation measures whole sequences.
STFT = {"segment_frames": 4}
FREE_RUN_PREFIX = 10  # true frames the rollout starts from
FREE_RUN_STEPS = 8  # frames unrolled on the generator's own predictions (the loss sees these)


def get_config() -> Experiment:
    # The flagship's config (experiments/gan_denoise.py) with rec/hop_periodicity added; nothing else differs.
    return Experiment(
        name="gan_hop_periodicity",
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
