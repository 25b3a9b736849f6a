"""Evaluation of generated audio: objective metrics, run comparison, listening tests.

Reads only run folders and audio files; never imports training code.
`evaluate_audio` and `evaluate_run` are imported lazily so that importing a
sibling module (e.g. the listening tests) does not load librosa.
"""
from __future__ import annotations

__all__ = ["evaluate_audio", "evaluate_run"]


def __getattr__(name: str):
    if name in __all__:
        from advaudio.evaluation import metrics

        return getattr(metrics, name)
    raise AttributeError(f"module 'advaudio.evaluation' has no attribute {name!r}")
