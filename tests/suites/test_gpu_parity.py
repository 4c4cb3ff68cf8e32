"""The same training iteration on NumPy and on CuPy gives the same numbers (on a GPU, and
under the strict CuPy stand-in everywhere)."""
import numpy as np
import pytest

import nn
from pix2pix.models.pix2pix_model import Pix2Pix


def test_one_training_iteration_matches_between_numpy_and_cupy(device_xp):
    """Same seed, same inputs, dropout off: the four losses and every updated weight of
    G and D agree to float32 tolerance."""
    kwargs = dict(netG="unet_32", ngf=8, ndf=8, no_dropout=True, seed=0)
    cpu, gpu = Pix2Pix(device="cpu", **kwargs), Pix2Pix(device="cuda", **kwargs)
    rng = np.random.default_rng(0)
    a = rng.uniform(-1, 1, (2, 3, 32, 32)).astype(np.float32)
    b = rng.uniform(-1, 1, (2, 3, 32, 32)).astype(np.float32)
    for _ in range(2):
        losses_cpu = cpu.train_step(a, b)
        losses_gpu = gpu.train_step(nn.to_device(a, "cuda"), nn.to_device(b, "cuda"))
        for name in losses_cpu:
            assert losses_gpu[name] == pytest.approx(losses_cpu[name], rel=1e-4, abs=1e-5)
    for net in ("netG", "netD"):
        ours = getattr(cpu, net).state_dict()
        theirs = getattr(gpu, net).state_dict()
        for key in ours:
            np.testing.assert_allclose(nn.to_numpy(theirs[key]), ours[key], rtol=1e-3,
                                       atol=1e-5, err_msg=f"{net}.{key}")
