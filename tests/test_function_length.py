"""The house rule that keeps the library readable: no function in nn/ or pix2pix/ is longer
than 60 lines (from its ``def`` to its last line, docstring included). A longer one is a
sign that a step wants its own well-named function."""
import ast

from tests.paths import REPO

MAX_LINES = 60


def long_functions(folder):
    """["path:line name (N lines)", ...] for every function in folder longer than MAX_LINES."""
    found = []
    for path in sorted((REPO / folder).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_LINES:
                    found.append(f"{path.relative_to(REPO)}:{node.lineno} {node.name} "
                                 f"({length} lines)")
    return found


def test_no_function_in_nn_or_pix2pix_is_over_60_lines():
    too_long = long_functions("nn") + long_functions("pix2pix")
    assert not too_long, "split these into named steps: " + ", ".join(too_long)


def test_the_check_sees_a_long_function(tmp_path, monkeypatch):
    """The check itself can fail: a 61-line function in a scratch folder is found."""
    monkeypatch.setattr("tests.test_function_length.REPO", tmp_path)
    (tmp_path / "pkg").mkdir()
    body = "".join(f"    x{i} = {i}\n" for i in range(MAX_LINES - 1))
    (tmp_path / "pkg" / "long.py").write_text("def long():\n" + body + "    return 0\n")
    assert long_functions("pkg") == ["pkg/long.py:1 long (61 lines)"]
    (tmp_path / "pkg" / "long.py").write_text("def long():\n" + body)
    assert long_functions("pkg") == []
