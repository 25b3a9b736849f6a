"""Writes the tiny FrameGRU checkpoints of tests/test_models.py with the code of commit 25f36c9 (Keras layers, before the fused recurrence). Kept for provenance; do not rerun with newer code."""
import os, sys
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", ".."))
import keras, numpy as np, tensorflow as tf
from advaudio.models import FrameGRU
out = os.path.dirname(os.path.abspath(__file__))
frames = np.random.default_rng(0).standard_normal((2, 5, 12)).astype("float32")
arrays = {"frames": frames}
for cell in ("gru", "lstm"):
    keras.utils.set_random_seed(1)
    model = FrameGRU(frame_length=12, units=4, layers=2, cell=cell, gate_bias=0.5, name="frame_gru")
    model.build((None, None, 12))
    for v in model.weights:  # non-trivial values everywhere (biases included)
        v.assign(np.random.default_rng(len(v.path)).normal(scale=0.4, size=v.shape).astype("float32"))
    model.save_weights(f"{out}/{cell}.weights.h5")
    model.save(f"{out}/{cell}.keras")
    preds, states = model.call_with_states(frames)
    arrays[f"{cell}_preds"] = preds.numpy()
    for i, s in enumerate(states):
        arrays[f"{cell}_state{i}"] = s.numpy()
np.savez(f"{out}/expected.npz", **arrays)
