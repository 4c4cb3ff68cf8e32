"""python -m pix2pix.test: the test command (pix2pix/evaluation/evaluate.py)."""
from pix2pix.evaluation.evaluate import main

if __name__ == "__main__":
    raise SystemExit(main())
