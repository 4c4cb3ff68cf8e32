"""Evaluate a trained generator (the official port's `python test.py ...` works here too).

    python test.py --name facades_label2photo --phase val
    python test.py --help             # every option
"""
from pix2pix.evaluation.evaluate import main

if __name__ == "__main__":
    raise SystemExit(main())
