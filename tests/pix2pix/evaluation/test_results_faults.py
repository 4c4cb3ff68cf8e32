"""The test command's results folder: a full disk leaves no half-written picture, a
results folder that cannot be created is a one-line error naming --results_dir.
"""
import pytest
from PIL import Image

from pix2pix.data.synthetic import save_synthetic
from pix2pix.evaluation import evaluate
from tests.pix2pix.robustness import (
    disk_full,
    one_line_error,
    train,
    write_inputs,
)

pytestmark = pytest.mark.usefixtures("no_loss_plots")


def test_full_disk_while_writing_results_leaves_no_half_file(trained, tmp_path, monkeypatch,
                                                              capsys):
    from pix2pix.evaluation.evaluate import main as test_main
    inputs = tmp_path / "in"
    save_synthetic(inputs, n=2, size=32)
    real_save, calls = Image.Image.save, [0]

    def save(self, fp, *args, **kwargs):  # the disk fills during the third picture
        calls[0] += 1
        if calls[0] == 3:
            fp.write(b"\x89PNG half")
            disk_full()
        return real_save(self, fp, *args, **kwargs)

    monkeypatch.setattr(Image.Image, "save", save)
    assert test_main(["--checkpoints_dir", str(trained.parent.parent), "--name", "run",
                      "--input_dir", str(inputs), "--results_dir", str(tmp_path / "res")]) == 2
    err = capsys.readouterr().err
    assert "cannot write" in err and "No space left on device" in err and "--results_dir" in err
    written = list((tmp_path / "res").rglob("*.png"))
    assert len(written) == 2 and all(p.read_bytes().startswith(b"\x89PNG\r\n") for p in written)
    assert not list((tmp_path / "res").rglob(".tmp-*"))


def test_unwritable_results_dir(tmp_path, capsys):
    assert train(tmp_path, "--max_dataset_size", "2", "--max_iters", "1") == 0
    (tmp_path / "file").write_text("not a folder")
    code = evaluate.main(["--checkpoints_dir", str(tmp_path), "--name", "run", "--dataroot",
                      "synthetic", "--input_dir", str(write_inputs(tmp_path / "in")),
                      "--results_dir", str(tmp_path / "file" / "results")])
    assert code == 2
    one_line_error(capsys.readouterr().err, "cannot write", "Not a directory", "--results_dir")
