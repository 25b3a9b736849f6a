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
"""
from advaudio.config import Data, Experiment, Generate, Model, Objective, Train


def get_config() -> Experiment:
    return Experiment(
        name="spectral",
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
            # The weights live here, not in the objective: the saved config is what trained.
            loss_weights={"spec/sc": 1.0, "spec/logmag": 1.0},
            stft={
                "fft_sizes": (1024, 2048, 512),
                "hop_lengths": (120, 240, 50),
                "win_lengths": (600, 1200, 240),
            },
        ),
        # Same budget as the MSE baseline so the two compare step for step.
        train=Train(epochs=8, steps_per_epoch=150, validation_steps=20, learning_rate=1e-3, clipnorm=1.0),
        generate=Generate(seconds=30.0, count=2, stitch="auto", seed_frames=10, seed_from="valid"),
    )
