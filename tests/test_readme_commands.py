"""The README's set-up and test commands are the ones CI runs (.ci/run checks the README
too; this catches a drift before CI does)."""
import re

from tests.paths import REPO

ROOT = REPO  # the repository


def test_ci_runs_the_readme_commands_and_setup_installs_the_test_extra():
    ci = (ROOT / ".ci" / "run").read_text()
    readme = (ROOT / "README.md").read_text().splitlines()
    setup = re.search(r"^SETUP='(.*)'$", ci, re.M).group(1)
    test = re.search(r"^TEST='(.*)'$", ci, re.M).group(1)
    assert setup in readme and test in readme
    assert ".[test]" in setup  # else `python -m pytest` finds no pytest on a bare machine
    assert 'eval "$SETUP"' in ci and 'eval "$TEST"' in ci
    assert "python -m venv" in ci


def test_the_test_extra_holds_pytest_and_scikit_image():
    pyproject = (ROOT / "pyproject.toml").read_text()
    extra = re.search(r"^test = \[(.*?)\]", pyproject, re.M | re.S).group(1)
    assert "pytest" in extra and "scikit-image" in extra
