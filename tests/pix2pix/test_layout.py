"""The house plan, checked: pix2pix/ is grouped by layer and imports run one way.

    models, files   the networks and the loss; checkpoints and .pth files
    data            images, pairs, data sets, the loader
    options         the command line (ours and the port's names)
    evaluation      the test command, metrics, pictures and pages
    training        the loop, schedules, progress, fine-tuning
    (top)           the commands: train, test, download, combine; benchmarks

A module may import from its own folder and from layers below it, never above; and no
chain of imports (at module level or inside a function) comes back to where it started.
"""
import ast

from tests.paths import REPO

PACKAGE = REPO / "pix2pix"
LAYER = {"models": 0, "files": 1, "data": 1, "options": 2, "evaluation": 3, "training": 4}
TOP = 5  # pix2pix/*.py and benchmarks/


def module_name(path):
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path):
    """Every pix2pix module `path` imports, wherever the import statement stands."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("pix2pix")}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parent + ([base] if base else []))
            if base.startswith("pix2pix"):
                for alias in node.names:   # `from pix2pix.data import images` names a module
                    sub = f"{base}.{alias.name}"
                    found.add(sub if (PACKAGE.parent / (sub.replace(".", "/") + ".py")).exists()
                              else base)
    return found - {name}


def graph():
    return {module_name(p): imports_of(p) for p in PACKAGE.rglob("*.py")}


def layer(module):
    parts = module.split(".")
    return LAYER.get(parts[1], TOP) if len(parts) > 2 or parts[-1] in LAYER else TOP


def test_imports_run_one_way_between_layers():
    upward = [f"{m} (layer {layer(m)}) imports {d} (layer {layer(d)})"
              for m, deps in graph().items() for d in deps
              if layer(d) > layer(m) or (layer(d) == layer(m) < TOP
                                         and d.split(".")[1] != m.split(".")[1]
                                         and d.split(".")[1] != "models")]
    assert not upward, "\n".join(upward)


def find_cycle(edges):
    """One import cycle as a list of modules, or None (depth-first search, three colours)."""
    colour, stack = {}, []

    def visit(node):
        colour[node] = "grey"
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if colour.get(nxt) == "grey":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in colour and (cycle := visit(nxt)):
                return cycle
        colour[node] = "black"
        stack.pop()
        return None

    for node in sorted(edges):
        if node not in colour and (cycle := visit(node)):
            return cycle
    return None


def test_no_import_cycle_inside_pix2pix():
    edges = graph()
    cycle = find_cycle(edges)
    assert cycle is None, " -> ".join(cycle)


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_few_files_at_the_top():
    top = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(top) <= 6, top
