"""python -m pix2pix.train: the training command (the loop is pix2pix/training/loop.py)."""
from pix2pix.training.loop import main

if __name__ == "__main__":
    raise SystemExit(main())
