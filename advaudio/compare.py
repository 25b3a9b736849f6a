"""Command line for comparing runs: python -m advaudio.compare RUN_DIR ... --out DIR.

The work is done by advaudio.evaluation.report.main (the library behind the command).
"""
import sys

from advaudio.evaluation.report import main

if __name__ == "__main__":
    sys.exit(main())
