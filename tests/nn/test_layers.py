"""Modules: parameter registration and names, train/eval, state dicts, saving and loading.

Checkpoints are .npz files of plain arrays: never pickles, written atomically, and
checked key by key and shape by shape when loaded.
"""
import os

import numpy as np
import pytest

import nn


def small_net(seed=0):
    """Conv -> BN -> LeakyReLU -> Dropout, nested: Sequential(Sequential(conv, bn), ...)."""
    g = np.random.default_rng(seed)
    return nn.Sequential(
        nn.Sequential(nn.Conv2d(2, 3, kernel_size=3, padding=1, generator=g), nn.BatchNorm2d(3)),
        nn.LeakyReLU(0.2),
        nn.Dropout(0.5, generator=np.random.default_rng(seed)),
        nn.Conv2d(3, 1, kernel_size=1, bias=False, generator=g),
    )


class Block(nn.Module):
    """A user-defined module: attributes that are Parameters or Modules are registered."""

    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(np.ones(2, dtype=np.float32))
        self.conv = nn.Conv2d(2, 2, kernel_size=1)
        self.not_a_parameter = np.zeros(2)

    def forward(self, x):
        return self.conv(x) * self.scale.reshape(1, 2, 1, 1)


# --- registration and names ----------------------------------------------------------------

def test_parameter_names_follow_the_nesting():
    """Names are attribute paths, Sequential children are "0", "1", ...: the same keys
    PyTorch would give, so a checkpoint's layout can be read off the model."""
    names = [name for name, _ in small_net().named_parameters()]
    assert names == ["0.0.weight", "0.0.bias", "0.1.weight", "0.1.bias", "3.weight"]
    block_names = [name for name, _ in Block().named_parameters()]
    assert block_names == ["scale", "conv.weight", "conv.bias"]


def test_buffers_are_saved_but_not_learned():
    """BatchNorm's running statistics are in state_dict (they must be saved) but not in
    parameters() (the optimiser must not touch them)."""
    net = nn.Sequential(nn.Conv2d(1, 2, kernel_size=3), nn.BatchNorm2d(2))
    state = net.state_dict()
    assert list(state) == ["0.weight", "0.bias", "1.weight", "1.bias",
                           "1.running_mean", "1.running_var"]
    params = list(net.parameters())
    assert len(params) == 4
    assert all(p.data is not net[1].running_mean for p in params)
    assert state["1.running_mean"] is net[1].running_mean  # the arrays, not copies


def test_assigning_to_a_buffer_keeps_it_a_buffer():
    """bn.running_mean = new_array must still be saved: a buffer that silently fell out of
    state_dict would make every checkpoint lose the running statistics."""
    bn = nn.BatchNorm2d(2)
    bn.running_mean = np.full(2, 3.0, dtype=np.float32)
    assert list(bn.state_dict()) == ["weight", "bias", "running_mean", "running_var"]
    np.testing.assert_array_equal(bn.state_dict()["running_mean"], [3.0, 3.0])


def test_module_must_call_super_init_first():
    class Forgetful(nn.Module):
        def __init__(self):
            self.weight = nn.Parameter(np.zeros(1))

    with pytest.raises(RuntimeError, match=r"must call super\(\).__init__\(\)"):
        Forgetful()


def test_train_and_eval_reach_every_submodule():
    """eval() must switch the BatchNorm and the Dropout nested two levels down."""
    net = small_net()
    net.eval()
    assert all(not m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())
    assert net.train(False) is net and not net[2].training


def test_zero_grad_clears_every_parameter():
    net = small_net()
    x = nn.Tensor(np.random.default_rng(1).standard_normal((2, 2, 4, 4)).astype(np.float32))
    net(x).mean().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_requires_grad_false_freezes_parameters():
    net = small_net()
    net.requires_grad_(False)
    out = net(nn.Tensor(np.ones((2, 2, 3, 3), dtype=np.float32)))
    assert not out.requires_grad


# --- state dicts and checkpoints -------------------------------------------------------------

def test_save_load_round_trip_reproduces_the_outputs(tmp_path):
    """Train-mode forward passes change the running statistics; after saving, loading into
    a differently initialised model gives identical eval outputs."""
    x = nn.Tensor(np.random.default_rng(1).standard_normal((4, 2, 5, 5)).astype(np.float32))
    net = small_net(seed=0)
    for _ in range(3):
        net(x)  # updates the BatchNorm running statistics
    net.eval()
    path = tmp_path / "checkpoint.npz"
    nn.save(net.state_dict(), path)

    fresh = small_net(seed=1).eval()
    assert not np.array_equal(fresh(x).numpy(), net(x).numpy())
    missing, unexpected = fresh.load_state_dict(nn.load(path))
    assert missing == [] and unexpected == []
    np.testing.assert_array_equal(fresh(x).numpy(), net(x).numpy())
    np.testing.assert_array_equal(fresh[0][1].running_var, net[0][1].running_var)


def test_load_state_dict_copies_into_the_existing_arrays():
    """Loading must not replace the arrays (an optimiser holds references to them)."""
    net, other = small_net(0), small_net(1)
    weight = net[0][0].weight
    data = weight.data
    net.load_state_dict(other.state_dict())
    assert net[0][0].weight is weight and weight.data is data
    np.testing.assert_array_equal(data, other[0][0].weight.data)


def test_load_state_dict_reports_every_problem_at_once():
    """Missing, unexpected and mis-shaped keys in ONE message, so one failed load tells
    the whole story (e.g. a checkpoint from a model with other channel counts)."""
    net = small_net()
    state = dict(net.state_dict())
    del state["0.1.running_var"]                                  # missing
    state["5.weight"] = np.zeros(3, dtype=np.float32)              # unexpected
    state["3.weight"] = np.zeros((1, 4, 1, 1), dtype=np.float32)   # mis-shaped
    with pytest.raises(ValueError) as error:
        net.load_state_dict(state)
    message = str(error.value)
    assert "missing keys: 0.1.running_var" in message
    assert "unexpected keys: 5.weight" in message
    assert "3.weight: checkpoint (1, 4, 1, 1), model (1, 3, 1, 1)" in message


def test_load_state_dict_not_strict_loads_what_matches():
    """strict=False tolerates missing and unexpected keys (returned, not raised) and
    loads the rest; a wrong shape is still an error."""
    net, other = small_net(0), small_net(1)
    state = dict(other.state_dict())
    del state["3.weight"]
    state["extra"] = np.zeros(1)
    missing, unexpected = net.load_state_dict(state, strict=False)
    assert missing == ["3.weight"] and unexpected == ["extra"]
    np.testing.assert_array_equal(net[0][0].weight.data, other[0][0].weight.data)
    assert not np.array_equal(net[3].weight.data, other[3].weight.data)
    state["0.0.bias"] = np.zeros(7)
    with pytest.raises(ValueError, match="shape mismatches: 0.0.bias"):
        net.load_state_dict(state, strict=False)


def test_load_refuses_pickled_objects(tmp_path):
    """np.load(allow_pickle=True) on a downloaded checkpoint could run arbitrary code;
    nn.load reads plain arrays only, and an object array is refused."""
    path = tmp_path / "evil.npz"
    np.savez(path, weight=np.array([{"not": "an array"}], dtype=object))
    with pytest.raises(ValueError, match="evil.npz"):
        nn.load(path)


def test_save_is_atomic(tmp_path, monkeypatch):
    """A crash while writing leaves the previous checkpoint intact and no temp file."""
    path = tmp_path / "checkpoint.npz"
    nn.save({"w": np.arange(3.0)}, path)

    def crash_midway(file, **arrays):
        file.write(b"PK\x03\x04 half a zip file")
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", crash_midway)
    with pytest.raises(OSError, match="disk full"):
        nn.save({"w": np.zeros(3)}, path)
    monkeypatch.undo()
    np.testing.assert_array_equal(nn.load(path)["w"], [0.0, 1.0, 2.0])
    assert os.listdir(tmp_path) == ["checkpoint.npz"]


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty"])
def test_load_of_a_damaged_file_names_it(tmp_path, damage):
    """A checkpoint cut short by a full disk or a killed copy gives a ValueError that
    names the file, not a zipfile traceback."""
    path = tmp_path / "checkpoint.npz"
    nn.save({"w": np.arange(100.0), "b": np.ones(3)}, path)
    content = path.read_bytes()
    path.write_bytes({"truncated": content[:len(content) // 2],
                      "garbage": b"this is not a checkpoint at all" * 10,
                      "empty": b""}[damage])
    with pytest.raises(ValueError, match="checkpoint.npz"):
        nn.load(path)


def test_load_of_a_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing.npz"):
        nn.load(tmp_path / "nothing.npz")


def test_save_accepts_numbers_and_creates_folders(tmp_path):
    """Optimiser state mixes arrays and numbers (the step count): both survive."""
    path = tmp_path / "sub" / "dir" / "state.npz"
    nn.save({"step": 7, "lr": 2e-4, "m": np.ones((2, 2), dtype=np.float32)}, path)
    state = nn.load(path)
    assert int(state["step"]) == 7 and float(state["lr"]) == 2e-4
    assert state["m"].dtype == np.float32 and state["m"].shape == (2, 2)
