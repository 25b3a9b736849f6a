"""Command line for comparing runs: python -m advaudio.compare RUN_DIR ... --out DIR.

The work is done by advaudio.evaluation.compare.main.
"""
import sys

from advaudio.evaluation.compare import main

if __name__ == "__main__":
    sys.exit(main())
