"""Spectral: the multi-resolution STFT loss alone, on the waveform stitched from the predicted frames.

Hypothesis: judged on magnitude spectra at three resolutions (Parallel WaveGAN's
(1024, 120, 600), (2048, 240, 1200), (512, 50, 240)) across frame seams instead
of sample by sample, the generator stops regressing to the muffled mean that MSE
rewards: samples keep more high-frequency energy and fewer clicks at frame
boundaries than experiments/mse_baseline.py. With no constraint on phase, the
waveform may sound phasey or buzzy and its val MSE (logged as rec/mse) will be
worse than the baseline's; compare both runs with `python -m advaudio.compare`.

Run: python -m advaudio.run experiments/spectral.py
Smoke: python -m advaudio.run experiments/spectral.py --smoke
Free-running (pairs the rollout with a spectral loss, as FARGAN does):
     python -m advaudio.run experiments/spectral.py --set objective.regime=free_running
On random 1 s runs of 4 frames per sequence, as the GAN experiments train (a step
~1.5x the MSE step on a CPU instead of ~5x; validation still measures whole sequences):
     python -m advaudio.run experiments/spectral.py --set "objective.stft={'segment_frames': 4}"
"""
from advaudio.config import Experiment, Objective


def get_config() -> Experiment:
    # Data, model, budget and generation are the defaults, i.e. those of mse_baseline.
    return Experiment(
        name="spectral",
        # The weights live here, not in the objective: the saved config is what trained.
        # objective.stft is empty: MultiResolutionSTFTLoss's defaults are Parallel WaveGAN's resolutions.
        objective=Objective(name="spectral", loss_weights={"spec/sc": 1.0, "spec/logmag": 1.0}),
    )
