"""Files: our .npz checkpoints, PyTorch .pth files read without torch (crafted ones refused),
the official port's key names. Imports nn and models only."""
