"""MSE baseline: the 2016 course project's set-up, done right.

Hypothesis: a 2-layer GRU trained with teacher-forced next-frame MSE learns the
pitch of the material but gives a muffled tonal wash with a click at every
frame boundary and no onsets; it is the reference every other objective must
beat (listen to samples/, compare with `python -m advaudio.compare`).

Run: python -m advaudio.run experiments/mse_baseline.py
Smoke: python -m advaudio.run experiments/mse_baseline.py --smoke
"""
from advaudio.config import Data, Experiment, Generate, Model, Objective, Train


def get_config() -> Experiment:
    return Experiment(
        name="mse_baseline",
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
        objective=Objective(name="mse", loss_weights={"rec/mse": 1.0}),
        # ~10 minutes on 2 CPU cores (see README, benchmarks/training.py).
        train=Train(epochs=8, steps_per_epoch=300, validation_steps=20, learning_rate=1e-3, clipnorm=1.0),
        generate=Generate(seconds=30.0, count=2, stitch="auto", seed_frames=10, seed_from="valid"),
    )
