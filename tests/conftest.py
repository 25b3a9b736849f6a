"""Shared test set-up: quiet TensorFlow, deterministic seeds, tiny audio helpers.

Markers and warning filters live in pyproject.toml ([tool.pytest.ini_options]).
"""
import os
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")  # tests run on the CPU, GPU or not
if "PYTEST_XDIST_WORKER" in os.environ:
    # librosa's numba functions cache their machine code next to librosa (cache=True). Workers compiling the same
    # function at once in a fresh venv interleave numba's index and code files, and every later load segfaults
    # (a fresh-clone CI run, twelfth session); a cache folder per worker (set before numba is imported, and
    # inherited by the worker's subprocesses) keeps each cache written by one process at a time.
    os.environ.setdefault("NUMBA_CACHE_DIR", os.path.join(
        tempfile.gettempdir(), f"advaudio-tests-numba-{os.environ['PYTEST_XDIST_WORKER']}"))

import numpy as np
import pytest

MAX_TEST_WORKERS = 8  # each worker imports TensorFlow (~650 MB); more than 8 buys little for ~800 tests


def pytest_xdist_auto_num_workers(config):
    """`-n auto` (pyproject.toml): one worker per core this process may use, at most MAX_TEST_WORKERS.

    Most of the suite's time is single-threaded Python (tracing tf.functions, autograph), so a worker per core
    fills the machine; os.sched_getaffinity counts the cores a container or `taskset` allows, not the host's.
    """
    return max(1, min(len(os.sched_getaffinity(0)), MAX_TEST_WORKERS))


@pytest.fixture
def tone():
    """`tone(freq, seconds, sr)` -> float32 sine of amplitude 0.5."""

    def make(freq: float = 440.0, seconds: float = 1.0, sample_rate: int = 16000) -> np.ndarray:
        t = np.arange(int(seconds * sample_rate)) / sample_rate
        return (0.5 * np.sin(2 * np.pi * freq * t)).astype("float32")

    return make


@pytest.fixture
def float64():
    """Keras in float64 for one test, then back: equivalence tests between set-ups that sum in different
    orders (fused vs Keras layers, folded vs step by step, XLA vs graph) keep a tight tolerance meaningful."""
    import keras

    floatx, policy = keras.config.floatx(), keras.config.dtype_policy()
    keras.config.set_floatx("float64")
    keras.config.set_dtype_policy("float64")
    yield
    keras.config.set_floatx(floatx)
    keras.config.set_dtype_policy(policy)
