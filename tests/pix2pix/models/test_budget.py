"""The budget's counts (pix2pix/models/budget.py) against the networks as built: a count
that drifts from the model would refuse good files or pass crafted ones."""
import tracemalloc

import numpy as np
import pytest

import nn
from pix2pix.models import define_D, define_G
from pix2pix.models.budget import (
    BudgetError,
    check_generator_claim,
    generator_activation_bytes,
    generator_state_size,
    patchgan_activation_bytes,
    patchgan_state_size,
    unet_activation_bytes,
    unet_state_size,
)


def state_numbers(net):
    return sum(int(v.size) for v in net.state_dict().values())


@pytest.mark.parametrize("size,input_nc,output_nc,ngf,norm,skips", [
    (256, 3, 3, 64, "batch", True), (64, 1, 2, 8, "instance", True), (32, 3, 1, 4, "none", False),
    (16, 3, 3, 5, "batch", False)])
def test_unet_state_size_is_the_built_networks(size, input_nc, output_nc, ngf, norm, skips):
    G = define_G(f"unet_{size}", input_nc, output_nc, ngf, norm, skips=skips)
    depth = size.bit_length() - 1
    assert unet_state_size(depth, input_nc, output_nc, ngf, norm, skips) == state_numbers(G)


@pytest.mark.parametrize("netG", ["resnet_9blocks", "resnet_6blocks"])
@pytest.mark.parametrize("norm", ["batch", "instance", "none"])
def test_resnet_state_size_is_the_built_networks(netG, norm):
    G = define_G(netG, 3, 2, 8, norm)
    assert generator_state_size(netG, 3, 2, 8, norm) == state_numbers(G)


@pytest.mark.parametrize("netD,n_layers", [("basic", 3), ("n_layers", 1), ("n_layers", 5),
                                           ("pixel", 3)])
@pytest.mark.parametrize("norm", ["batch", "instance", "none"])
def test_patchgan_state_size_is_the_built_networks(netD, n_layers, norm):
    D = define_D(netD, 6, 16, n_layers, norm)
    assert patchgan_state_size(netD, 6, 16, n_layers, norm) == state_numbers(D)


def peak_of_forward_and_backward(net, shape):
    x = nn.Tensor(np.random.default_rng(0).random(shape, dtype=np.float32))
    tracemalloc.start()
    try:
        net(x).mean().backward()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_activation_estimates_bound_a_measured_pass_within_four_times():
    G = define_G("unet_64", 3, 3, 16)
    measured = peak_of_forward_and_backward(G, (2, 3, 64, 64))
    estimate = unet_activation_bytes(6, 3, 3, 16, 64, 64, batch=2)
    assert measured <= estimate <= 4 * measured, (measured, estimate)
    G = define_G("resnet_6blocks", 3, 3, 8)
    measured = peak_of_forward_and_backward(G, (2, 3, 32, 32))
    estimate = generator_activation_bytes("resnet_6blocks", 3, 3, 8, 32, 32, batch=2)
    assert measured <= estimate <= 4 * measured, (measured, estimate)
    D = define_D("basic", 6, 16)
    measured = peak_of_forward_and_backward(D, (2, 6, 64, 64))
    estimate = patchgan_activation_bytes("basic", 6, 16, 3, 64, 64, batch=2)
    assert measured <= estimate <= 4 * measured, (measured, estimate)


def test_a_claim_the_file_cannot_hold_or_the_budget_cannot_fit_is_refused():
    weights = unet_state_size(6, 3, 3, 8)
    check_generator_claim("g.npz", "unet_64", 3, 3, 8, "batch", True, 4 * weights, 64, 2**30)
    with pytest.raises(BudgetError, match=r"g.npz claims a generator unet_64 with ngf 8.*cannot "
                                          r"be in its"):
        check_generator_claim("g.npz", "unet_64", 3, 3, 8, "batch", True, weights, 64, 2**30)
    with pytest.raises(BudgetError, match=r"more than the memory budget of 0.00 GiB"):
        check_generator_claim("g.npz", "unet_64", 3, 3, 8, "batch", True, None, 64, 2**20)
    with pytest.raises(BudgetError, match=r"claims ngf '8': expected a positive integer"):
        check_generator_claim("g.npz", "unet_64", 3, 3, "8", "batch", True, None, 64, 2**30)
