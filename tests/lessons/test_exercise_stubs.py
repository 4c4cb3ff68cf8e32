"""The exercise stubs in lessons/exercises/, for every id in the registry.

Each exercise has one source: one function or class in the library, marked
``### BEGIN SOLUTION <id>``, whose docstring is the contract; the stub is generated from
it (lessons/stubs.py), never committed: ``python -m lessons.release --stubs`` writes the
missing files, and grading uses the same text made in memory until a file exists.
For each exercise: the student's object imports; calling it (forward AND backward for a
``Function``) raises NotImplementedError naming the exercise ("Exercise 3.2"); it has
exactly the reference's signature, so that the graded tests can call it the same way;
and at least one test in tests/ is marked ``@pytest.mark.exercise("<id>")``, so that
``python -m pytest --exercise <id>`` grades something.
"""
import ast
import inspect
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import nn
from lessons import exercises, release, stubs
from nn.tensor import Context
from pix2pix.models import define_D
from tests.paths import REPO, TESTS

IDS = list(exercises.EXERCISES)


def t64(shape, requires_grad=True, seed=0):
    values = np.random.default_rng(seed).uniform(0.5, 1.5, shape)
    return nn.Tensor(values, requires_grad=requires_grad)


def f32(shape):
    return nn.Tensor(np.zeros(shape, np.float32))


# One small valid call per exercise, made exactly as the graded tests make it.
EXAMPLE_CALLS = {
    "1.1": lambda MulFunction: MulFunction.apply(t64((2, 3)), t64((3,))),
    "1.2": lambda backpropagate: backpropagate(t64((2,)) * t64((2,)), np.ones(2)),
    "2.1": lambda numerical_gradient: numerical_gradient(lambda: 0.0, np.zeros(2), [0]),
    "3.1": lambda im2col: im2col(np.zeros((1, 2, 5, 5)), 3, 1, 1),
    "3.2": lambda Conv: Conv.apply(t64((1, 2, 5, 5)), t64((3, 2, 3, 3)), t64((3,)),
                                   stride=1, padding=1),
    "3.3": lambda backward: backward(np.ones((1, 3, 5, 5)), np.ones((3, 2, 3, 3)),
                                     np.ones((18, 25)), (1, 2, 5, 5), 1, 1, True, True),
    "4.1": lambda ConvT: ConvT.apply(t64((1, 3, 2, 2)), t64((3, 2, 4, 4)), None,
                                     stride=2, padding=1),
    "5.1": lambda BN: BN.apply(t64((2, 3, 2, 2)), t64((3,)), t64((3,)), np.zeros(3), np.ones(3),
                               training=True, momentum=0.1, eps=1e-5),
    "6.1": lambda LeakyReLUFunction: LeakyReLUFunction.apply(t64((2, 3)), negative_slope=0.2),
    "6.2": lambda DropoutFunction: DropoutFunction.apply(t64((2, 3)), p=0.5, generator=np.random.default_rng(0)),
    "6.3": lambda TanhFunction: TanhFunction.apply(t64((2, 3))),
    "6.4": lambda SigmoidFunction: SigmoidFunction.apply(t64((2, 3))),
    "6b.1": lambda adam: adam(np.zeros(2), np.ones(2), np.zeros(2), np.zeros(2), 1),
    "7.1": lambda UNetUp: UNetUp(8, 4)(f32((1, 8, 2, 2)), f32((1, 4, 4, 4))),
    "8.1": lambda receptive_field: receptive_field([(4, 2), (4, 1)]),
    "9.1": lambda BCE: BCE.apply(t64((2, 3)), t64((2, 3), requires_grad=False, seed=1)),
    "9.2": lambda L1: L1.apply(t64((2, 3)), t64((2, 3), seed=1)),
    "10.1": lambda linear_factor: linear_factor(0, 1, 1),
    "10.2": lambda loss_D: loss_D(define_D("n_layers", 6, ndf=2, n_layers_D=1),
                                  f32((1, 3, 8, 8)), f32((1, 3, 8, 8)), f32((1, 3, 8, 8))),
    "12.1": lambda SyncBN: SyncBN.apply(t64((2, 3, 2, 2)), t64((3,)), t64((3,)), np.zeros(3),
                                        np.ones(3), lambda a: a, momentum=0.1, eps=1e-5),
}


def is_function(obj):
    return inspect.isclass(obj) and issubclass(obj, nn.Function)


def is_module(obj):
    return inspect.isclass(obj) and issubclass(obj, nn.Module)


def test_every_exercise_has_an_example_call():
    """A new exercise in the registry needs a line in EXAMPLE_CALLS above."""
    assert sorted(EXAMPLE_CALLS) == sorted(IDS)


@pytest.mark.parametrize("exercise_id", IDS)
def test_example_call_is_valid_for_the_reference(exercise_id):
    """The example inputs are right: the library's own implementation accepts them."""
    EXAMPLE_CALLS[exercise_id](exercises.load(exercise_id))


@pytest.mark.parametrize("exercise_id", IDS)
def test_stub_imports_and_is_the_same_kind_of_object(exercise_id):
    reference = exercises.load(exercise_id)
    student = exercises.load(exercise_id, student=True)
    assert student is not reference, f"the stub of {exercise_id} is the library's object itself"
    assert is_function(student) == is_function(reference)
    assert is_module(student) == is_module(reference)
    assert callable(student)


@pytest.mark.parametrize("exercise_id", IDS)
def test_stub_raises_not_implemented_naming_the_exercise(exercise_id):
    student = exercises.load(exercise_id, student=True)
    with pytest.raises(NotImplementedError, match=re.escape(f"Exercise {exercise_id}")):
        EXAMPLE_CALLS[exercise_id](student)
    if is_function(student):  # the backward must be left to the student too
        with pytest.raises(NotImplementedError, match=re.escape(f"Exercise {exercise_id}")):
            student.backward(Context((True, True)), np.ones((2, 3)))


@pytest.mark.parametrize("exercise_id", IDS)
def test_stub_has_the_reference_signature(exercise_id):
    """Same argument names, order and defaults: the graded tests call both the same way."""
    reference = exercises.load(exercise_id)
    student = exercises.load(exercise_id, student=True)
    if is_function(reference):
        methods = ("forward", "backward")
    elif is_module(reference):
        methods = ("__init__", "forward")
    else:
        assert inspect.signature(student) == inspect.signature(reference)
        return
    for method in methods:
        assert inspect.signature(getattr(student, method)) == \
            inspect.signature(getattr(reference, method)), f"{exercise_id}: {method}"


def _test_sources():
    return {path.name: path.read_text() for path in sorted(TESTS.rglob("test_*.py"))
            if path.name != Path(__file__).name}


@pytest.mark.parametrize("exercise_id", IDS)
def test_some_test_grades_the_exercise(exercise_id):
    """``--exercise <id>`` must select at least one test, or grading would pass vacuously."""
    marker = re.compile(r"""mark\.exercise\(\s*["']""" + re.escape(exercise_id) + r"""["']""")
    graded_in = [name for name, text in _test_sources().items() if marker.search(text)]
    assert graded_in, f"no test in tests/ is marked @pytest.mark.exercise({exercise_id!r})"


def test_each_exercise_marks_exactly_the_registered_object():
    """One region per id, holding one def or class: the registry's reference."""
    sources = release.solution_sources()
    assert sorted(sources) == sorted(IDS)
    for exercise_id, (path, text) in sources.items():
        module, name = exercises.EXERCISES[exercise_id].reference.split(":")
        assert path == module.replace(".", "/") + ".py", exercise_id
        tree = ast.parse(textwrap.dedent(text))
        assert [node.name for node in tree.body] == [name], exercise_id


@pytest.fixture(scope="module")
def library_copy(tmp_path_factory):
    """The library and lessons, copied outside git (where stub files may be written)."""
    root = tmp_path_factory.mktemp("repo")
    for folder in ("nn", "pix2pix", "lessons"):
        shutil.copytree(REPO / folder, root / folder,
                        ignore=shutil.ignore_patterns("__pycache__", "output", "notebooks",
                                                      "figures", "ex*.py"))
    return root


def test_stub_files_are_never_committed():
    """One source: the stubs are generated from the library, not stored beside it."""
    assert not [p for p in release.tracked_files() if p.startswith("lessons/exercises/ex")]


def test_generated_stub_modules_define_every_exercise(library_copy):
    texts = stubs.expected_stubs(library_copy)
    for exercise_id, exercise in exercises.EXERCISES.items():
        module, name = exercise.student.split(":")
        path = library_copy / (module.replace(".", "/") + ".py")
        namespace = {}
        exec(compile(texts[path], str(path), "exec"), namespace)
        assert name in namespace, f"{path.name} lacks {name} ({exercise_id})"


def test_stubs_command_writes_missing_files_and_never_overwrites(library_copy):
    written, kept = stubs.write_stubs(library_copy)
    assert len(written) == len({e.student.split(":")[0] for e in exercises.EXERCISES.values()})
    assert kept == []
    mine = library_copy / "lessons/exercises/ex08_patchgan.py"
    mine.write_text(mine.read_text().replace('raise NotImplementedError("Exercise 8.1")',
                                             "return 42  # the student's work"))
    (library_copy / "lessons/exercises/ex10_training.py").unlink()
    written, kept = stubs.write_stubs(library_copy)
    assert [p.name for p in written] == ["ex10_training.py"]
    assert "return 42  # the student's work" in mine.read_text()
    # Grading then takes the student's file, not the stub made in memory.
    run = subprocess.run([sys.executable, "-c", "from lessons import exercises; "
                          "print(exercises.load('8.1', student=True)([(4, 2)]))"],
                         cwd=library_copy, env={**os.environ, "PYTHONPATH": str(library_copy)},
                         capture_output=True, text=True)
    assert run.stdout.strip() == "42", run.stderr


def _docstrings(tree):
    return {ast.get_docstring(node, clean=False) for node in ast.walk(tree)
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and ast.get_docstring(node)}


def _statements(tree):
    """The code of every function body, docstrings left out."""
    return [ast.unparse(s) for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)
            for s in node.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]


@pytest.mark.parametrize("exercise_id", IDS)
def test_stub_keeps_the_contract_and_nothing_of_the_solution(exercise_id):
    """Every docstring of the solution is in the stub; every body is the raise."""
    _, text = release.solution_sources()[exercise_id]
    solution = ast.parse(textwrap.dedent(text))
    stub = ast.parse(release.stub_of(text, exercise_id))
    assert "Graded:" in ast.get_docstring(solution.body[0]), "the contract says what is graded"
    assert _docstrings(solution) <= _docstrings(stub)
    assert _statements(solution), f"{exercise_id}: the solution has no code"
    assert set(_statements(stub)) == {f"raise NotImplementedError('Exercise {exercise_id}')"}
