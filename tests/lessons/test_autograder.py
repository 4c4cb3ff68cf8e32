"""Gradescope's autograder, run against a fake /autograder tree (AUTOGRADER_ROOT).

The zip that ``python -m lessons.release --autograder`` writes is unpacked as source/;
submission/ is a student release: with every hole filled by the references (full marks,
without torch), or untouched except for the tamperings students tried (no gain). A few
exercises per run (AUTOGRADER_ONLY) keep the test short; each is graded in its own process.
"""
import json
import os
import subprocess
import sys
import zipfile

import pytest

from lessons import exercises
from lessons.release import make_autograder, make_release

FIELDS = {"name", "number", "score", "max_score", "output", "visibility", "status"}


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    root = tmp_path_factory.mktemp("autograder")
    make_autograder(root / "autograder.zip")
    with zipfile.ZipFile(root / "autograder.zip") as archive:
        names = archive.namelist()
        archive.extractall(root / "source")
    assert "setup.sh" in names and "run_autograder" in names and "nn/ops/conv.py" in names
    return root / "source"


def run_autograder(source, submission, only, python=sys.executable, **env):
    root = submission.parent
    (root / "source").symlink_to(source)
    run = subprocess.run(["bash", str(source / "run_autograder")], capture_output=True,
                         text=True, timeout=400,
                         env={**os.environ, "AUTOGRADER_ROOT": str(root),
                              "AUTOGRADER_PYTHON": str(python), "AUTOGRADER_ONLY": only, **env})
    results = json.loads((root / "results" / "results.json").read_text())
    assert results["stdout_visibility"] == "hidden" and results["execution_time"] >= 0
    for test in results["tests"]:
        assert FIELDS <= set(test), test
    return {t["number"]: t for t in results["tests"]}, results, run


def replace_object(path, name, code):
    """Put ``code`` (a top-level def or class) in place of ``name`` in the file."""
    import ast
    text = path.read_text()
    node = next(n for n in ast.parse(text).body if getattr(n, "name", None) == name)
    lines = text.splitlines(keepends=True)
    start = (node.decorator_list[0] if node.decorator_list else node).lineno
    path.write_text("".join(lines[:start - 1]) + code + "".join(lines[node.end_lineno:]))


def test_references_get_full_marks_without_torch(source, tmp_path):
    """A perfect submission, graded by an interpreter where ``import torch`` fails."""
    submission = tmp_path / "root" / "submission"
    make_release(submission, filled=True)
    no_torch = tmp_path / "no_torch"
    no_torch.mkdir()
    (no_torch / "torch.py").write_text("raise ModuleNotFoundError('no torch here', name='torch')\n")
    python = tmp_path / "python"
    python.write_text(f'#!/bin/sh\nPYTHONPATH="$PYTHONPATH:{no_torch}" exec {sys.executable} "$@"\n')
    python.chmod(0o755)
    by_id, results, run = run_autograder(source, submission, "1.2,6b.1,9.2", python)
    assert sorted(by_id) == ["1.2", "6b.1", "9.2"], run.stdout + run.stderr
    for exercise_id, test in by_id.items():
        assert test["score"] == test["max_score"] == exercises.POINTS[exercise_id], test
    assert results["score"] == 3 + 2 + 1


TAMPERED = {   # exercise: (file, object, code put in its place)
    "5.1": ("nn/ops/batchnorm.py", "BatchNormFunction", None),      # see below
    "6.1": ("nn/ops/activations.py", "LeakyReLUFunction", '''class LeakyReLUFunction(Function):
    @staticmethod
    def forward(ctx, x, negative_slope=0.01):
        while True:
            pass
'''),
    "6.3": ("nn/ops/activations.py", "TanhFunction", '''class TanhFunction(Function):
    @staticmethod
    def forward(ctx, x):
        import torch
        return torch.tanh(torch.as_tensor(x)).numpy()
'''),
    "9.1": ("nn/ops/losses.py", "BCEWithLogitsFunction", '''class BCEWithLogitsFunction(Function):
    @staticmethod
    def forward(ctx, x, target):
        import atexit
        atexit.register(lambda: None)
'''),
    "9.2": ("nn/ops/losses.py", "L1LossFunction", '''class L1LossFunction(Function):
    @staticmethod
    def forward(ctx, a, b):
        print("x" * 10_000_000)
'''),
}


def test_tampering_gains_nothing(source, tmp_path):
    """The grader edited to give full marks, an atexit hook that rewrites results.json,
    gradcheck neutered next to a wrong BatchNorm backward, torch inside 6.3, an endless loop,
    10 MB of output: each exercise scores what its own code earns, and the run ends."""
    submission = tmp_path / "root" / "submission"
    make_release(submission)
    (submission / "tests" / "grading.py").write_text(
        "def write_results(path, *args):\n    open(path, 'w').write('{\"score\": 100}')\n")
    (submission / "nn" / "tensor.py").write_text(
        (submission / "nn" / "tensor.py").read_text() +
        "\nimport atexit, json\natexit.register(lambda: open('/autograder/results/results.json',"
        " 'w').write(json.dumps({'score': 100})))\n")
    (submission / "nn" / "gradcheck.py").write_text(
        (submission / "nn" / "gradcheck.py").read_text() +
        "\n\ndef gradcheck(*args, **kwargs):\n    return True\n")
    # 5.1: the reference with the training-mode backward missing its mean term
    from lessons.release import solution_sources
    reference = solution_sources()["5.1"][1]
    wrong = reference.replace("            grad_x -= _per_channel(grad_beta / count)\n", "")
    assert wrong != reference
    TAMPERED["5.1"] = ("nn/ops/batchnorm.py", "BatchNormFunction", wrong)
    for rel, name, code in TAMPERED.values():
        replace_object(submission / rel, name, code)
    by_id, results, run = run_autograder(source, submission, "1.2,5.1,6.1,6.3,9.1,9.2",
                                         AUTOGRADER_CHECK_SECONDS="2")
    assert sorted(by_id) == ["1.2", "5.1", "6.1", "6.3", "9.1", "9.2"], run.stdout + run.stderr
    assert 0 < by_id["5.1"]["score"] < by_id["5.1"]["max_score"], by_id["5.1"]
    assert "gradient" in by_id["5.1"]["output"]
    for exercise_id in ("1.2", "6.1", "6.3", "9.1", "9.2"):
        assert by_id[exercise_id]["score"] == 0, by_id[exercise_id]
    assert "import torch" in by_id["6.3"]["output"]
    assert "import atexit" in by_id["9.1"]["output"]
    assert "failed: " in by_id["6.1"]["output"]       # graded: each check stopped after 2 s
    assert "more than 1 MB" in by_id["9.2"]["output"]
    assert results["score"] == pytest.approx(by_id["5.1"]["score"])
