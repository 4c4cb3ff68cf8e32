"""A non-editable install works: the console scripts and `python -m pix2pix.train` answer
--help (a missing `if __name__ == "__main__"` once made the latter print nothing).

The package is built from a copy of the sources into a temporary venv that sees the
running interpreter's packages (numpy, pillow, setuptools >= 70.1 from the test extra, ...)
and installs nothing from the network.
"""
import os
import shutil
import site
import subprocess
import sys
from pathlib import Path

import pytest

from tests.paths import REPO

ROOT = REPO  # the repository
SCRIPTS = {"pix2pix-train": "Train pix2pix", "pix2pix-test": "Evaluate a trained generator",
           "pix2pix-download": "Download or link", "pix2pix-combine": "Join two folders"}


@pytest.fixture(scope="module")
def venv(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("install")
    source = tmp / "src"
    source.mkdir()
    # A copy, so that the build's egg-info and build/ folders never land in the checkout.
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    for name in ("nn", "pix2pix", "lessons"):
        shutil.copytree(ROOT / name, source / name,
                        ignore=shutil.ignore_patterns("__pycache__", "output"))
    env_dir = tmp / "venv"
    # A venv of its own that sees this interpreter's packages (numpy, pillow, pip, setuptools)
    # through a .pth file, so nothing comes from the network. (.pth files inside those
    # folders, such as an editable install's finder, are not run: the checkout stays out.)
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env_dir)], check=True)
    site_dir = next((env_dir / "lib").glob("python*/site-packages"))
    outer = [p for p in site.getsitepackages() if Path(p).is_dir()]
    (site_dir / "outer_site.pth").write_text("\n".join(outer) + "\n")
    python = env_dir / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--no-deps",
                    "--no-build-isolation", "--no-index", str(source)], check=True,
                   cwd=tmp, env=clean_env(), timeout=120)
    return env_dir, tmp


def clean_env():
    """No PYTHONPATH: the installed copy, not the checkout, must be imported."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}


def run_in(venv, *args):
    env_dir, cwd = venv
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, cwd=cwd,
                          env=clean_env(), timeout=60)


@pytest.mark.slow
def test_console_scripts_answer_help(venv):
    for script, words in SCRIPTS.items():
        done = run_in(venv, venv[0] / "bin" / script, "--help")
        assert done.returncode == 0, done.stderr
        assert words in done.stdout, (script, done.stdout[:300])


@pytest.mark.slow
def test_python_m_train_runs_the_installed_copy(venv):
    python = venv[0] / "bin" / "python"
    done = run_in(venv, python, "-m", "pix2pix.training.loop", "--help")
    assert done.returncode == 0 and "--preset" in done.stdout, done.stderr
    where = run_in(venv, python, "-c", "import pix2pix; print(pix2pix.__file__)")
    assert str(venv[0]) in where.stdout, where.stdout  # not the checkout, not /work/main
