"""Train pix2pix. With no arguments: labels -> photo on datasets/facades, the paper's settings.

    python train.py                    # the paper's configuration (a GPU is advised)
    python train.py --preset cpu       # a configuration that finishes on a laptop CPU
    python train.py --help             # every option
"""
from pix2pix.training.loop import main

if __name__ == "__main__":
    raise SystemExit(main())
