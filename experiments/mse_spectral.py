"""MSE + spectral: next-frame MSE with the multi-resolution STFT terms as a weighted sum.

Hypothesis: MSE alone gives a muffled wash with clicks at frame seams (it
regresses to the conditional mean); the MR-STFT terms alone fix the spectrum but
leave the phase free. Together, MSE anchors the waveform and phase while
spec/sc + spec/logmag restore high-frequency detail and penalise the seams, so
samples should be brighter than experiments/mse_baseline.py with a val rec/mse
close to it. Every term is logged on its own (rec/mse, spec/sc, spec/logmag);
an ablation removes a key, e.g. --set "objective.loss_weights={'rec/mse': 1.0, 'spec/sc': 1.0}".

Run: python -m advaudio.run experiments/mse_spectral.py
Smoke: python -m advaudio.run experiments/mse_spectral.py --smoke
"""
from advaudio.config import Experiment, Objective


def get_config() -> Experiment:
    # Data, model, budget and generation are the defaults, i.e. those of mse_baseline.
    return Experiment(
        name="mse_spectral",
        objective=Objective(
            name="spectral",
            # Standardised audio: rec/mse starts near 1, as do spec/sc and spec/logmag, so equal weights.
            loss_weights={"rec/mse": 1.0, "spec/sc": 1.0, "spec/logmag": 1.0},
        ),
    )
