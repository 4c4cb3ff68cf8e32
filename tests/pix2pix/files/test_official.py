"""Official PyTorch-port weights in our networks: key mapping, checks, export."""
from pathlib import Path

import numpy as np
import pytest

import nn
from pix2pix.files.checkpoint import CheckpointError
from pix2pix.files.official import (
    infer_unet,
    load_official_generator,
    official_to_ours,
    ours_to_official,
    unet_key_map,
)
from pix2pix.files.pth import load_pth, save_pth
from pix2pix.models import define_D

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def _eval_output(G, x):
    G.eval()
    with nn.no_grad():
        return G(nn.Tensor(x)).data


def test_committed_official_unet_runs_like_pytorch_without_torch():
    """A unet_32 saved by torch.save, loaded with our reader and mapping, gives the output
    torch computed (stored beside it), in eval mode."""
    G = load_official_generator(FIXTURES / "tiny_official_unet.pth")
    expected = np.load(FIXTURES / "tiny_official_unet_expected.npz")
    np.testing.assert_allclose(_eval_output(G, expected["input"]), expected["eval_output"],
                               atol=1e-5)


def test_architecture_is_read_off_the_file():
    state = load_pth(FIXTURES / "tiny_official_unet.pth")
    assert infer_unet(state) == (5, 3, 3, 2)


def test_key_map_covers_every_parameter_once():
    from pix2pix.models import define_G
    G = define_G("unet_256", ngf=2)
    mapping = unet_key_map(8)
    assert set(mapping) == set(G.state_dict())
    assert len(set(mapping.values())) == len(mapping)
    assert mapping["down.0.conv.weight"] == "model.model.0.weight"
    assert mapping["up.0.conv.weight"] == "model.model.1" + ".model.3" * 6 + ".model.3.weight"


def test_missing_extra_and_misshaped_keys_are_all_named():
    state = dict(load_pth(FIXTURES / "tiny_official_unet.pth"))
    state.pop("model.model.0.weight")
    state["model.extra.weight"] = np.zeros(3, np.float32)
    key = "model.model.3.bias"
    state[key] = np.zeros(5, np.float32)
    from pix2pix.models import define_G
    shapes = {k: v.shape for k, v in define_G("unet_32", ngf=2).state_dict().items()}
    with pytest.raises(CheckpointError) as e:
        official_to_ours(state, shapes, unet_key_map(5))
    message = str(e.value)
    assert "missing model.model.0.weight" in message
    assert "unexpected key model.extra.weight" in message
    assert "model.model.3.bias: shape (5,)" in message


def test_a_discriminator_file_is_not_taken_for_a_generator(tmp_path):
    D = define_D("basic", 6, ndf=4)
    path = tmp_path / "latest_net_D.pth"
    save_pth({k: nn.to_numpy(v) for k, v in D.state_dict().items()}, path)
    with pytest.raises(CheckpointError, match="not an official U-Net or ResNet generator"):
        load_official_generator(path)


@pytest.mark.needs_torch
@pytest.mark.parametrize("num_downs", [5, 6])
def test_torch_saved_unet_matches_in_eval_and_train_mode(tmp_path, num_downs):
    torch = pytest.importorskip("torch")
    from pix2pix.benchmarks.torch_peer import UnetGenerator, randomise_batchnorm_stats
    torch.manual_seed(num_downs)
    net = randomise_batchnorm_stats(UnetGenerator(3, 3, num_downs, ngf=4, use_dropout=True))
    path = tmp_path / "latest_net_G.pth"
    torch.save(net.state_dict(), path)
    G = load_official_generator(path)
    x = np.random.default_rng(1).uniform(-1, 1, (2, 3, 2 ** num_downs, 2 ** num_downs))
    x = x.astype(np.float32)
    net.eval()
    with torch.no_grad():
        expected = net(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(_eval_output(G, x), expected, atol=2e-5)
    # Train mode (batch statistics) with dropout off on both sides.
    net.train()
    for m in net.modules():
        if isinstance(m, torch.nn.Dropout):
            m.p = 0.0
    for m in G.modules():
        if isinstance(m, nn.Dropout):
            m.p = 0.0
    G.train()
    with torch.no_grad():
        expected = net(torch.from_numpy(x)).numpy()
    with nn.no_grad():
        np.testing.assert_allclose(G(nn.Tensor(x)).data, expected, atol=2e-5)


@pytest.mark.needs_torch
def test_torch_saved_patchgan_loads_into_ours(tmp_path):
    torch = pytest.importorskip("torch")
    from pix2pix.benchmarks.torch_peer import (
        NLayerDiscriminator,
        randomise_batchnorm_stats,
    )
    torch.manual_seed(0)
    net = randomise_batchnorm_stats(NLayerDiscriminator(6, ndf=4)).eval()
    path = tmp_path / "latest_net_D.pth"
    torch.save(net.state_dict(), path)
    D = define_D("basic", 6, ndf=4)
    shapes = {k: v.shape for k, v in D.state_dict().items()}
    D.load_state_dict(official_to_ours(load_pth(path), shapes, {}))
    x = np.random.default_rng(2).uniform(-1, 1, (1, 6, 64, 64)).astype(np.float32)
    with torch.no_grad():
        expected = net(torch.from_numpy(x)).numpy()
    D.eval()
    with nn.no_grad():
        np.testing.assert_allclose(D(nn.Tensor(x)).data, expected, atol=2e-5)


@pytest.mark.needs_torch
def test_exported_weights_load_into_the_official_network(tmp_path):
    """ours -> official names -> save_pth (no torch) -> torch.load + strict load_state_dict."""
    torch = pytest.importorskip("torch")
    from pix2pix.benchmarks.torch_peer import UnetGenerator
    from pix2pix.models import define_G
    G = define_G("unet_32", ngf=2, seed=3)
    path = tmp_path / "exported_net_G.pth"
    save_pth(ours_to_official(G.state_dict(), unet_key_map(5)), path)
    net = UnetGenerator(3, 3, 5, ngf=2)
    net.load_state_dict(torch.load(path, weights_only=True), strict=True)
    net.eval()
    x = np.random.default_rng(3).uniform(-1, 1, (1, 3, 32, 32)).astype(np.float32)
    with torch.no_grad():
        expected = net(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(_eval_output(G, x), expected, atol=2e-5)
