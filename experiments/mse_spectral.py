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
from advaudio.config import Data, Experiment, Generate, Model, Objective, Train


def get_config() -> Experiment:
    return Experiment(
        name="mse_spectral",
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
            name="spectral",
            # Standardised audio: rec/mse starts near 1, as do spec/sc and spec/logmag, so equal weights.
            loss_weights={"rec/mse": 1.0, "spec/sc": 1.0, "spec/logmag": 1.0},
            stft={
                "fft_sizes": (1024, 2048, 512),
                "hop_lengths": (120, 240, 50),
                "win_lengths": (600, 1200, 240),
            },
        ),
        train=Train(epochs=8, steps_per_epoch=150, validation_steps=20, learning_rate=1e-3, clipnorm=1.0),
        generate=Generate(seconds=30.0, count=2, stitch="auto", seed_frames=10, seed_from="valid"),
    )
