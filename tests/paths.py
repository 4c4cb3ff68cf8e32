"""Where things are, for tests in any folder below tests/."""
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]     # the repository's root
TESTS = REPO / "tests"
FIXTURES = TESTS / "pix2pix" / "files" / "fixtures"   # small .pth files and what they hold
