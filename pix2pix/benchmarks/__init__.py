"""Speed measurements: our ``nn`` against PyTorch on the shapes pix2pix really uses.

Each module runs on its own, e.g. ``python -m pix2pix.benchmarks.layers`` (every conv,
transposed conv and BatchNorm shape of the U-Net and the PatchGAN, ours vs torch).
"""
