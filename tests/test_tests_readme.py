"""tests/README.md stays true: every exercise has a row, and every test file it names exists."""
import re

from lessons.exercises import EXERCISES
from tests.paths import REPO, TESTS

README = (TESTS / "README.md").read_text()


def test_every_exercise_has_a_row():
    rows = re.findall(r"^\| (\d+b?\.\d+) \|", README, re.MULTILINE)
    assert sorted(rows) == sorted(EXERCISES)


def test_every_named_file_exists():
    names = set(re.findall(r"`([\w/]+\.py)`", README))
    missing = [name for name in sorted(names) if not (TESTS / name).exists()
               and not (REPO / name).exists() and not list(TESTS.rglob(name))]
    assert not missing, f"tests/README.md names files that do not exist: {missing}"
