"""python -m pix2pix.download --pretrained: the port's address and file layout, a local
HTTP server standing in for the port's (127.0.0.1, a tiny official .pth), and offline
what to do by hand."""
import functools
import http.server
import socket
import threading

import pytest

from pix2pix import download
from pix2pix.data.published import PRETRAINED
from pix2pix.evaluation import evaluate
from tests.paths import FIXTURES


def test_the_ports_addresses_and_places():
    assert download.pretrained_url("facades_label2photo") == \
        "http://efrosgans.eecs.berkeley.edu/pix2pix/models-pytorch/facades_label2photo.pth"
    assert download.pretrained_path("sat2map", "ck").as_posix() == \
        "ck/sat2map_pretrained/latest_net_G.pth"
    assert sorted(PRETRAINED) == ["day2night", "edges2shoes", "facades_label2photo",
                                  "map2sat", "sat2map"]


@pytest.fixture
def port_server(tmp_path, monkeypatch):
    """A local server for <folder>/models-pytorch/; PRETRAINED_URL points at it. Yields
    (the folder it serves, the paths it was asked for)."""
    (tmp_path / "served" / "models-pytorch").mkdir(parents=True)
    requested = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            requested.append(self.path)

    handler = functools.partial(Handler, directory=str(tmp_path / "served"))
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        monkeypatch.setattr(download, "PRETRAINED_URL",
                            f"http://127.0.0.1:{server.server_port}/models-pytorch")
        yield tmp_path / "served" / "models-pytorch", requested
        server.shutdown()


def test_pretrained_lands_where_the_test_command_finds_it(port_server, tmp_path):
    served, requested = port_server
    (served / "facades_label2photo.pth").write_bytes(
        (FIXTURES / "tiny_official_unet.pth").read_bytes())
    ck = tmp_path / "ck"
    assert download.main(["--pretrained", "facades_label2photo",
                          "--checkpoints_dir", str(ck)]) == 0
    assert requested == ["/models-pytorch/facades_label2photo.pth"]
    assert (ck / "facades_label2photo_pretrained" / "latest_net_G.pth").is_file()
    opt, given, _ = evaluate.parse_test_options(["--checkpoints_dir", str(ck), "--name",
                                                 "facades_label2photo_pretrained"])
    _, source = evaluate.load_generator(opt, given)
    assert source.startswith("official weights") and opt.netG == "unet_32"


def test_a_file_that_is_not_a_generator_is_not_kept(port_server, tmp_path, capsys):
    served, _ = port_server
    (served / "sat2map.pth").write_bytes(b"<html>not found</html>")
    assert download.main(["--pretrained", "sat2map", "--checkpoints_dir", str(tmp_path)]) == 1
    assert "error:" in capsys.readouterr().err
    assert list((tmp_path / "sat2map_pretrained").iterdir()) == []   # no half file left


def unused_port():
    """A local port nobody listens on (bound once, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_offline_it_says_where_to_put_the_file(monkeypatch, tmp_path, capsys):
    port = unused_port()
    monkeypatch.setattr(download, "PRETRAINED_URL", f"http://127.0.0.1:{port}/m")
    assert download.main(["--pretrained", "map2sat", "--checkpoints_dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert f"http://127.0.0.1:{port}/m/map2sat.pth" in err
    assert str(tmp_path / "map2sat_pretrained" / "latest_net_G.pth") in err
    assert "Traceback" not in err
