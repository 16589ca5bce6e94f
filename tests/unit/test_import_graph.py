"""The arrows of docs/architecture.md, checked on the source: every import counts, including the
ones inside functions (a deferred import is still a dependency)."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
WEB_FRAMEWORKS = ("django", "rest_framework", "channels", "celery", "drf_spectacular", "storages")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules(package: str) -> dict[str, Path]:
    root = REPO / package.replace(".", "/")
    return {_module_name(p): p for p in root.rglob("*.py") if "migrations" not in p.parts}


def imports_of(source: str, module: str, is_package: bool = False) -> set[str]:
    """Absolute names of everything ``source`` (the text of ``module``) imports; ``from a import b``
    yields ``a`` and ``a.b``."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")
                anchor = anchor[: len(anchor) - node.level + (1 if is_package else 0)]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def _imports_of_file(path: Path, module: str) -> set[str]:
    return imports_of(path.read_text(), module, is_package=path.name == "__init__.py")


def _offending(package: str, forbidden) -> list[str]:
    return sorted(f"{name} imports {imported}" for name, path in _modules(package).items()
                  for imported in _imports_of_file(path, name) if forbidden(imported))


def _is_web(imported: str) -> bool:
    return imported.split(".")[0] in WEB_FRAMEWORKS


def test_inference_imports_no_django_and_no_app():
    assert _offending("inference", lambda m: _is_web(m) or m.split(".")[0] in {"webapp", "studies",
                                                                                 "devtools", "tests"}) == []


def test_statistics_import_no_django_and_nothing_else_of_the_project():
    def forbidden(m: str) -> bool:
        top = m.split(".")[0]
        return _is_web(m) or top in {"webapp", "inference", "devtools", "tests"} or (
            top == "studies" and not (m == "studies" or m.startswith("studies.analysis")))

    assert _offending("studies.analysis", forbidden) == []


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as a list of nodes (first == last), or None."""
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


def module_graph(*packages: str) -> dict[str, set[str]]:
    """Imports between the modules of ``packages``: an import of a name inside a module counts as
    an import of that module; a package's own ``__init__`` imported by its submodules does not."""
    modules = {name: path for package in packages for name, path in _modules(package).items()}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets = set()
        for imported in _imports_of_file(path, name):
            while imported and imported not in modules:
                imported = imported.rpartition(".")[0]
            if imported and imported != name and not name.startswith(f"{imported}."):
                targets.add(imported)
        graph[name] = targets
    return graph


def test_find_cycle_sees_a_cycle_and_a_clean_graph():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_jobs_app_has_no_import_cycle():
    graph = module_graph("webapp.jobs")
    assert {"webapp.jobs.services", "webapp.jobs.execution"} <= set(graph)
    assert find_cycle(graph) is None


def test_project_has_no_import_cycle():
    assert find_cycle(module_graph("webapp", "studies", "inference")) is None


def test_jobs_app_knows_no_app_built_on_it():
    """Studies and interactive sessions use jobs; jobs reach them only through the job_finished signal."""
    assert _offending("webapp.jobs", lambda m: m.startswith(("studies", "webapp.interactive", "webapp.pages"))) == []


def test_studies_know_no_app_built_on_them():
    """The model registry builds on studies; studies hear from it only through studies.provenance's signal."""
    assert _offending("studies", lambda m: m.startswith("webapp.registry")) == []
    assert _offending("webapp.jobs", lambda m: m.startswith("webapp.registry")) == []


def test_relative_and_in_function_imports_are_seen():
    source = "from . import sibling\nfrom ..photos import models\n\ndef f():\n    from webapp.jobs import services\n"
    found = imports_of(source, "webapp.jobs.probe")
    assert {"webapp.jobs.sibling", "webapp.photos.models", "webapp.jobs.services"} <= found
    assert "webapp.jobs.probe" not in found
