"""No import cycle inside `pbrl/`, and no import up a layer: every import (module level and inside
functions) is an edge, except those in an `if __name__ == "__main__":` block, which run only when the
file is the program (`python -m pbrl.rewards.score` hands its run to `pbrl.cli.rewards_score`).

Layers, bottom to top: the core (config, languages, answers, stats, rundir, policy, generation,
models/, ...), data/, the stages side by side (pivot/, rewards/, algos/, evaluation + harness,
report, analysis/), pipeline, and the entry layer (pbrl/cli/, run, score, launch_callbacks and
every `__main__`)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "pbrl"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        run_only = {id(n) for node in tree.body if _is_main_block(node) for n in ast.walk(node)}
        for node in ast.walk(tree):
            if id(node) in run_only:
                continue
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(anchor + ([base] if base else []))
                # `from pkg import submodule` imports the submodule; `from mod import name`, the module
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
            for target in targets:
                while target and target not in modules:  # `from pbrl.x import func` -> pbrl.x
                    target = target.rpartition(".")[0]
                if target and target != name:
                    graph[name].add(target)
    return graph


def _is_main_block(node) -> bool:
    """`if __name__ == "__main__":` at module level."""
    test = getattr(node, "test", None)
    return (isinstance(node, ast.If) and isinstance(test, ast.Compare) and isinstance(test.left, ast.Name)
            and test.left.id == "__name__")


STAGES = ("pbrl.pivot", "pbrl.rewards", "pbrl.algos", "pbrl.evaluation", "pbrl.harness", "pbrl.report",
          "pbrl.analysis")
ENTRY = ("pbrl.cli", "pbrl.run", "pbrl.score", "pbrl.launch_callbacks")


def _under(name: str, prefixes) -> str | None:
    return next((p for p in prefixes if name == p or name.startswith(p + ".")), None)


def layer(name: str) -> int:
    """0 core, 1 data, 2 stages, 3 pipeline, 4 entry."""
    if name.endswith(".__main__") or _under(name, ENTRY):
        return 4
    if name == "pbrl.pipeline":
        return 3
    if _under(name, STAGES):
        return 2
    return 1 if _under(name, ("pbrl.data",)) else 0


def stage(name: str) -> str | None:
    group = _under(name, STAGES)
    return "pbrl.evaluation" if group == "pbrl.harness" else group


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle as [a, b, ..., a], or None (iterative DFS with colours)."""
    colour = dict.fromkeys(graph, 0)
    for root in sorted(graph):
        if colour[root]:
            continue
        stack, path = [(root, iter(sorted(graph[root])))], [root]
        colour[root] = 1
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                colour[node] = 2
                stack.pop()
                path.pop()
            elif colour[child] == 1:
                return path[path.index(child):] + [child]
            elif colour[child] == 0:
                colour[child] = 1
                stack.append((child, iter(sorted(graph[child]))))
                path.append(child)
    return None


def test_finder_sees_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_graph_sees_function_level_imports_but_not_a_main_block():
    graph = import_graph()
    assert "pbrl.rewards" in graph["pbrl.cli.preflight"]  # imported inside check_reward
    assert "pbrl.errors" in graph["pbrl.config"]
    assert "pbrl.cli.rewards_score" not in graph["pbrl.rewards.score"]  # only in its __main__ block


def test_no_module_imports_a_layer_above_it():
    graph = import_graph()
    up = [f"{a} -> {b}" for a in sorted(graph) for b in sorted(graph[a]) if layer(b) > layer(a)]
    assert not up, "imports pointing up a layer: " + ", ".join(up)


def test_stages_sit_side_by_side():
    """A stage imports the core and data/, never another stage (harness belongs to evaluation)."""
    graph = import_graph()
    across = [f"{a} -> {b}" for a in sorted(graph) for b in sorted(graph[a])
              if layer(a) == layer(b) == 2 and stage(a) != stage(b)]
    assert not across, "stage imports another stage: " + ", ".join(across)


def test_pbrl_has_no_import_cycle():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_packages_have_no_import_cycle():
    """Each folder of pbrl/ as one node (pbrl.cli, pbrl.plan, ...): no two packages import each other,
    which would put one package's command above the other's library and below it at once."""
    graph = import_graph()
    folders: dict[str, set[str]] = {}
    for a, targets in graph.items():
        folder = ".".join(a.split(".")[:2])
        folders.setdefault(folder, set()).update(".".join(b.split(".")[:2]) for b in targets)
    for folder, targets in folders.items():
        targets.discard(folder)
    cycle = find_cycle(folders)
    assert cycle is None, "package import cycle: " + " -> ".join(cycle)
