"""No import cycles inside entrypoint/: every module's imports (top-level, in functions, and under
TYPE_CHECKING alike) are read with `ast`, and the graph between prod-entry's own modules must be acyclic, so
that low modules (names, errors, config, health...) never reach up into the ones that use them."""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest

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


def package_of(module: str) -> str:
    """The stage package a module belongs to (entrypoint.warmup.gate -> warmup); the entry path's modules at the
    top (launch, cli, run, manager, the aliases) are the package `entrypoint` itself."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and (PACKAGE / parts[1]).is_dir() else parts[0]


def test_packages_import_one_way() -> None:
    """No stage package imports a package that imports it back, directly or around a circle (warmup reaching into
    backends while backends reach into warmup was one): a lower stage learns a server's knowledge through the
    registry's table, never by importing the server."""
    found = modules()
    graph: dict[str, set[str]] = {}
    for name, path in found.items():
        graph.setdefault(package_of(name), set()).update(
            package_of(dep) for dep in imports(name, path, set(found)) if package_of(dep) != package_of(name))
    assert {"settings", "logs", "init", "health", "release", "warmup", "backends"} <= set(graph)
    assert cycle(graph) is None, " -> ".join(cycle(graph) or [])


def test_the_package_reader_sees_a_package_cycle() -> None:
    assert package_of("entrypoint.warmup.gate") == "warmup"
    assert package_of("entrypoint.run") == "entrypoint"
    assert cycle({"warmup": {"backends"}, "backends": {"warmup"}}) == ["backends", "warmup", "backends"]


def documented_paths() -> set[str]:
    readme = (PACKAGE.parent / "README.md").read_text()
    return set(re.findall(r"\bentrypoint(?:\.[A-Za-z_]\w*)+", readme))


def resolve(dotted: str) -> object:
    """The module or attribute a dotted path names: the longest importable prefix, then attributes. A module that
    imports what only its server provides (`uwsgi` in uWSGI's hook) counts as found when the path names it."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        name = ".".join(parts[:cut])
        try:
            found: object = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name and not exc.name.startswith("entrypoint") and cut == len(parts):
                return name  # the module is there; the server it runs in is not
            continue
        for attribute in parts[cut:]:
            found = getattr(found, attribute)
        return found
    raise ModuleNotFoundError(dotted)


@pytest.fixture
def wrapper_importable(monkeypatch: pytest.MonkeyPatch) -> None:
    """The ASGI/WSGI wrappers load the wrapped app as they are imported, unless told it is a factory the server
    calls later: so they import here with no app at all."""
    monkeypatch.setenv("PROD_ENTRY_WRAPPED_FACTORY", "1")


@pytest.mark.usefixtures("wrapper_importable")
def test_every_dotted_path_the_readme_names_imports() -> None:
    paths = documented_paths()
    assert {"entrypoint.celery_heartbeat", "entrypoint.workers.rq.Worker", "entrypoint.backends.Launch"} <= paths
    for dotted in sorted(paths):
        assert resolve(dotted) is not None, dotted


@pytest.mark.parametrize(("old", "new"), [
    ("entrypoint.celery_heartbeat", "entrypoint.health.heartbeats.celery"),
    ("entrypoint.workers.rq", "entrypoint.health.heartbeats.rq"),
    ("entrypoint.workers.dramatiq", "entrypoint.health.heartbeats.dramatiq"),
    ("entrypoint.workers.huey", "entrypoint.health.heartbeats.huey"),
    ("entrypoint.workers.django_tasks", "entrypoint.health.heartbeats.django_tasks"),
    ("entrypoint.config", "entrypoint.settings.config"),
    ("entrypoint.asgi_wrapper", "entrypoint.warmup.asgi"),
    ("entrypoint.wsgi_wrapper", "entrypoint.warmup.wsgi"),
])
@pytest.mark.usefixtures("wrapper_importable")
def test_an_old_path_is_the_very_module_it_moved_to(old: str, new: str) -> None:
    """The same module object, not a copy: one Celery heartbeat state, one rq Worker class for isinstance."""
    assert importlib.import_module(old) is importlib.import_module(new)
