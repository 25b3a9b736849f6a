"""Spectral energy: a stochastic generator trained on the generalized energy distance between multi-resolution
spectrograms (Gritsenko et al., NeurIPS 2020), the collapse-proof spectral objective.

Hypothesis: experiments/spectral.py pulls one deterministic prediction towards the
data's spectrogram; fed its own output at generation, such a model settles into a
fixed point or a loop. Here the generator takes fresh noise with every frame
(model.noise_dim = 16) and the loss `spec/energy` = d(x, y1) + d(x, y2) - d(y1, y2)
compares two generations y1, y2 of the same input (independent noise) with the
data x, d being the MR-STFT distance (linear + log magnitude, Parallel WaveGAN's
resolutions): the attractive terms pull both towards the data, the repulsive
term rewards them for differing, so a model that ignores its noise (a frozen
loop, a mean-seeking mush) cannot minimise it. Expect, against spectral.py and
mse_baseline.py in `python -m advaudio.compare`, lower frame repetition and a
flatness ratio nearer 1, with rec/mse worse (two samples of a distribution do not
sit on its mean). The log shows the two parts (energy/attractive, energy/repulsive):
a repulsive part falling to 0 means the noise is being ignored. Measured (README,
"Measured on the default data"; 3 seeds, free running, 3 x 300 steps): no seed
froze into one frame (the most repetitive read 0.73), but every seed is a hiss
11.7-13.5x flatter than the data, which the flagship's discriminator
(experiments/gan_denoise.py) brings down.

Run: python -m advaudio.run experiments/spectral_energy.py
Smoke: python -m advaudio.run experiments/spectral_energy.py --smoke
Trained on its own rollouts (the repulsive term then judges what generation does):
     python -m advaudio.run experiments/spectral_energy.py --set objective.regime=free_running
Whole sequences instead of random 4-frame runs: --set "objective.stft={'segment_frames': None}"
"""
from advaudio.config import Experiment, Model, Objective

NOISE_DIM = 16  # standard-normal values per frame concatenated to the generator's input
# The energy's spectrograms judge a random run of 4 frames (1 s) of each sequence per step, as the GAN experiments'
# MR-STFT terms do (validation measures whole sequences).
STFT = {"segment_frames": 4}


def get_config() -> Experiment:
    # Data, budget and generation are the defaults, i.e. those of mse_baseline and spectral.
    return Experiment(
        name="spectral_energy",
        model=Model(noise_dim=NOISE_DIM),
        objective=Objective(name="spectral", loss_weights={"spec/energy": 1.0}, stft=STFT),
    )
