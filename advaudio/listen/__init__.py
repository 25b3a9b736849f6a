"""Blind listening tests: build a page from run folders, serve it locally, analyse the answers.

The command (`__main__.py`); the library is advaudio.evaluation.listening.

    python -m advaudio.listen build RUN_DIR ... --out DIR
    python -m advaudio.listen serve DIR [--port 8000]
    python -m advaudio.listen analyze DIR/results [--key DIR/key.json] [--out DIR/analysis]
"""
