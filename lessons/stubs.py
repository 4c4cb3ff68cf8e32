"""The exercise stubs of the in-repo workflow, generated from the library: never stored twice.

    python -m lessons.release --stubs     write the missing stub files in lessons/exercises/

Each exercise has one source, the library's marked solution (lessons/release.py). A stub
module, e.g. ``lessons/exercises/ex06_activations.py`` for exercises 6.1 to 6.4, is made of

- a header naming the exercises and the lesson;
- the import lines of the library modules the solutions live in (made absolute), and the
  module-level helpers those solutions use (``stable_sigmoid``, ``_AXES``, ...), so that a
  student has at hand what the library's author had;
- each exercise's stub (``release.stub_of``: signatures and contract, bodies raising
  ``NotImplementedError("Exercise N.M")``).

The files are written once, on request, and are then the student's: ``--stubs`` never
overwrites one. Until a file exists, grading (``python -m pytest --exercise 6.1``) uses the
same text, made in memory (``student_module``), so an untouched checkout grades as unwritten.
"""
import ast
import importlib.util
import sys
import textwrap
import types

from lessons.release import REPO, solution_sources, stub_of

PACKAGE = "lessons.exercises"
GPU_NOTE = ("Use ``xp = get_array_module(x)`` rather than ``np`` in array code, so that the "
            "same code\nruns on a GPU.")


def _student_files():
    """{stub module name: [(exercise id, reference module name, object name)]}."""
    from lessons.exercises import EXERCISES
    files = {}
    for exercise_id, exercise in EXERCISES.items():
        module, _ = exercise.student.split(":")
        reference_module, name = exercise.reference.split(":")
        files.setdefault(module, []).append((exercise_id, reference_module, name))
    return files


def _absolute(node, module_name):
    """An import statement of ``module_name``, relative imports made absolute."""
    if isinstance(node, ast.ImportFrom) and node.level:
        package = module_name.rpartition(".")[0]
        base = importlib.util.resolve_name("." * node.level + (node.module or ""), package)
        node = ast.ImportFrom(module=base, names=node.names, level=0)
    return ast.unparse(node)


def _imports_and_helpers(reference_module, solution, exercise_names, repo):
    """The reference module's import lines, and an import of the module-level names the
    solution's code uses from it (helpers, constants), the exercises themselves left out."""
    tree = ast.parse((repo / (reference_module.replace(".", "/") + ".py")).read_text())
    imports = [_absolute(node, reference_module) for node in tree.body
               if isinstance(node, (ast.Import, ast.ImportFrom)) and
               not (isinstance(node, ast.ImportFrom) and node.module == "__future__")]
    defined = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            defined.add(node.name)
        elif isinstance(node, ast.Assign):
            defined.update(t.id for t in node.targets if isinstance(t, ast.Name))
    used = {n.id for n in ast.walk(ast.parse(solution)) if isinstance(n, ast.Name)}
    helpers = sorted((used & defined) - set(exercise_names))
    if helpers:
        imports.append(f"from {reference_module} import {', '.join(helpers)}")
    return imports


def _lesson_file(exercise_id, repo):
    number = exercise_id.split(".")[0]
    number = number.zfill(2) if number.isdigit() else number.zfill(3)  # 6b -> 06b
    found = sorted((repo / "lessons").glob(f"{number}_*.py"))
    return f"lessons/{found[0].name}" if found else "the lessons"


def stub_module_text(module, entries, sources, repo=REPO):
    """The text of one stub module (``entries`` as ``_student_files`` lists them)."""
    ids = [exercise_id for exercise_id, _, _ in entries]
    names = [name for _, _, name in entries]
    libraries = sorted({sources[i][0] for i in ids})
    header = (f'"""Exercise{"s" if len(ids) > 1 else ""} {", ".join(ids)} '
              f"({_lesson_file(ids[0], repo)}).\n\n"
              f"Written by `python -m lessons.release --stubs` from the contracts in\n"
              f"{', '.join(libraries)}; once written, this file is yours: --stubs never\n"
              f"overwrites it. Fill in each body, then grade:\n\n"
              f"    python -m pytest --exercise {ids[0]}\n")
    imports = []
    for exercise_id, reference_module, _ in entries:
        solution = textwrap.dedent(sources[exercise_id][1])
        for line in _imports_and_helpers(reference_module, solution, names, repo):
            if line not in imports:
                imports.append(line)
    if any("get_array_module" in line for line in imports):
        header += f"\n{GPU_NOTE}\n"
    header += '"""\n'
    import_block = "".join(f"{line}  # noqa: F401\n" for line in imports)
    stubs = "\n\n".join(stub_of(sources[exercise_id][1], exercise_id)
                        for exercise_id, _, _ in entries)
    return f"{header}{import_block}\n\n{stubs}"


def expected_stubs(repo=REPO):
    """{stub file path: its generated text}, for every stub module."""
    sources = solution_sources(repo)
    return {repo / (module.replace(".", "/") + ".py"): stub_module_text(module, entries, sources,
                                                                        repo)
            for module, entries in _student_files().items()}


def write_stubs(repo=REPO):
    """Write the stub files that do not exist yet; returns (written, kept as they are)."""
    written, kept = [], []
    for path, text in expected_stubs(repo).items():
        if path.exists():
            kept.append(path)
        else:
            path.write_text(text)
            written.append(path)
    return written, kept


def student_module(module):
    """The stub module ``module`` (e.g. "lessons.exercises.ex06_activations"), made in
    memory from the library when its file has not been written (and registered in
    sys.modules, as an import would)."""
    entries = _student_files()[module]
    text = stub_module_text(module, entries, solution_sources(REPO))
    filename = str(REPO / (module.replace(".", "/") + ".py")) + " (not written yet)"
    generated = types.ModuleType(module)
    generated.__file__ = filename
    exec(compile(text, filename, "exec"), generated.__dict__)  # noqa: S102 -- our own text
    sys.modules[module] = generated
    return generated
