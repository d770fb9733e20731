"""No import cycles inside entrypoint/: every module's imports (top-level, in functions, and under
TYPE_CHECKING alike) are read with `ast`, and the graph between prod-entry's own modules must be acyclic, so
that low modules (names, errors, config, health...) never reach up into the ones that use them."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "entrypoint"


def modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imports(name: str, path: Path, known: set[str]) -> set[str]:
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            candidates = [base, *(f"{base}.{alias.name}" for alias in node.names)]
        else:
            continue
        for candidate in candidates:
            while candidate and candidate not in known:  # `from entrypoint.x import y`: y may be a name in x
                candidate = candidate.rpartition(".")[0]
            # A module importing its own package is Python's normal submodule order, not a cycle.
            if candidate and candidate != name and not name.startswith(candidate + "."):
                targets.add(candidate)
    return targets


def cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph as a path [a, b, ..., a], or None."""
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_reader_sees_a_cycle_when_there_is_one() -> None:
    assert cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert cycle({"a": {"b"}, "b": set()}) is None


def test_the_reader_resolves_relative_and_from_imports(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("from entrypoint.backends import Launch\nfrom . import config\nimport entrypoint.errors\n")
    known = {"entrypoint", "entrypoint.backends", "entrypoint.config", "entrypoint.errors", "entrypoint.m"}
    assert imports("entrypoint.m", module, known) == {"entrypoint.backends", "entrypoint.config", "entrypoint.errors"}


def test_entrypoint_has_no_import_cycle() -> None:
    found = modules()
    graph = {name: imports(name, path, set(found)) for name, path in found.items()}
    assert len(graph) > 30  # the whole package was read
    assert cycle(graph) is None, " -> ".join(cycle(graph) or [])
