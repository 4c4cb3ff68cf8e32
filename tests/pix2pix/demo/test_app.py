"""The demo's page served on a local port: its /translate endpoint through gradio_client
(what the page's upload runs), and the command line's one-line errors. Skipped without the
[demo] extra (pip install -e ".[demo]")."""
import socket

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("gradio", reason='the demo needs Gradio: pip install -e ".[demo]"')
from gradio_client import Client, handle_file

from pix2pix.demo.__main__ import main
from tests.pix2pix.demo.test_translate import label_map, run_test_command


@pytest.fixture(scope="module")
def client(server):
    return Client(server[0], verbose=False, analytics_enabled=False)


def call_translate(client, image, tmp_path, mode="paper mode", seed=5):
    path = tmp_path / f"in_{image.size[0]}x{image.size[1]}_{id(image)}.png"
    image.save(path)
    result = client.predict(handle_file(str(path)), mode, seed, api_name="/translate")
    with Image.open(result) as out:
        return np.asarray(out.convert("RGB"))


def test_translate_equals_the_test_commands_output(workspace, client, tmp_path):
    image = label_map(0)
    expected = run_test_command(workspace, tmp_path, image, "--seed", "5")
    np.testing.assert_array_equal(call_translate(client, image, tmp_path), expected)


def test_translate_keeps_the_size_and_depends_on_the_input(client, tmp_path):
    a, b = (label_map(i, size=48).resize((56, 40)) for i in (2, 3))
    out_a, out_b = (call_translate(client, im, tmp_path) for im in (a, b))
    assert out_a.shape == (40, 56, 3)
    assert np.abs(out_a.astype(int) - out_b.astype(int)).mean() > 1


def test_a_bad_input_is_one_line_saying_what_to_do(client, tmp_path):
    with pytest.raises(Exception, match="resize it below") as error:
        call_translate(client, Image.new("L", (4200, 4100)), tmp_path)
    assert "Traceback" not in str(error.value)


def test_a_missing_checkpoint_is_one_line(tmp_path, capsys):
    assert main(["--checkpoints_dir", str(tmp_path), "--name", "nothing"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "nothing" in err and "Traceback" not in err


def test_served_locally_without_a_share_link_or_analytics(server):
    url, _, app = server
    assert url.startswith("http://127.0.0.1:")
    assert app.share is False and app.analytics_enabled is False
    assert app.share_url is None


def test_a_busy_port_is_one_line(demo_args, capsys):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main([*demo_args, "--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert f"cannot serve on port {port}" in err and "another --port" in err
