"""pyproject.toml declares exactly what the code imports, and README says why for each.

Every third-party import in relayer/, chains/ and bench/ comes from a declared
distribution (a dependency, the postgres or bench extra, or an extra of one of them,
such as eth-hash's pysha3), and every declared runtime distribution is imported
somewhere; the tests' own imports come from what pyproject declares too.
"""

from __future__ import annotations

import ast
import functools
import importlib.metadata
import json
import re
import sys
import tomllib
from collections import defaultdict
from collections.abc import Iterator, Mapping
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]
FIRST_PARTY = {"relayer", "chains", "bench", "tests"}
RUNTIME_GROUPS = ("postgres", "bench")  # extras the code itself uses; test and dev are tools
# Imported only inside `except ImportError:` when the preferred module is missing: typer
# vendors click (typer._click) from 0.2x on; an older typer brings click itself.
FALLBACK_IMPORTS = {"click": "typer"}
# Declared distributions the code runs as a command instead of importing.
COMMANDS = {"py-spy": "bench/harness.py"}


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _declared(groups: tuple[str, ...]) -> dict[str, Requirement]:
    project = _pyproject()
    raw = list(project["dependencies"])
    for group in groups:
        raw += project["optional-dependencies"][group]
    reqs = {}
    for line in raw:
        req = Requirement(line)
        if not req.name.startswith("stbridge"):
            reqs[_normalize(req.name)] = req
    return reqs


def _provided(reqs: dict[str, Requirement]) -> set[str]:
    """The declared distributions and what their declared extras pull in."""
    provided = set(reqs)
    for name, req in reqs.items():
        for extra in req.extras:
            for line in importlib.metadata.requires(name) or []:
                sub = Requirement(line)
                if sub.marker is not None and sub.marker.evaluate({"extra": extra}):
                    provided.add(_normalize(sub.name))
    return provided


def _imports(folders: tuple[str, ...]) -> Iterator[tuple[str, Path, bool]]:
    """(top-level module, file, inside an ImportError fallback) for every import."""
    for folder in folders:
        for path in sorted((ROOT / folder).rglob("*.py")):
            tree = ast.parse(path.read_text(), filename=str(path))
            fallback_lines = set()
            for node in ast.walk(tree):
                if isinstance(node, ast.ExceptHandler) and "ImportError" in ast.unparse(
                    node.type or ast.Constant(None)
                ):
                    for inner in ast.walk(node):
                        if hasattr(inner, "lineno"):
                            fallback_lines.add(inner.lineno)
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    top = name.split(".")[0]
                    if top in FIRST_PARTY or top in sys.stdlib_module_names:
                        continue
                    yield top, path.relative_to(ROOT), node.lineno in fallback_lines


@functools.cache
def _packages_distributions() -> Mapping[str, list[str]]:
    return importlib.metadata.packages_distributions()


def _distributions(module: str) -> set[str]:
    return {_normalize(d) for d in _packages_distributions().get(module, [])}


@functools.cache
def _imported_distributions(folders: tuple[str, ...]) -> dict[str, set[str]]:
    found: dict[str, set[str]] = defaultdict(set)
    for module, path, in_fallback in _imports(folders):
        if in_fallback and module in FALLBACK_IMPORTS:
            found[_normalize(FALLBACK_IMPORTS[module])].add(str(path))
            continue
        dists = _distributions(module)
        assert dists, f"{path} imports {module}, which no installed distribution provides"
        for dist in dists:
            found[dist].add(str(path))
    return found


def test_every_import_of_the_code_is_declared() -> None:
    provided = _provided(_declared(RUNTIME_GROUPS))
    imported = _imported_distributions(("relayer", "chains", "bench"))
    undeclared = {d: sorted(p) for d, p in imported.items() if d not in provided}
    assert not undeclared, f"imported but not declared in pyproject.toml: {undeclared}"


def test_every_declared_dependency_is_used() -> None:
    imported = _imported_distributions(("relayer", "chains", "bench"))
    for name in _declared(RUNTIME_GROUPS):
        if name in COMMANDS:
            assert name in (ROOT / COMMANDS[name]).read_text(), f"{name} is never run"
            continue
        assert name in imported, f"{name} is declared in pyproject.toml but nothing imports it"


def test_the_tests_import_only_declared_distributions() -> None:
    project = _pyproject()
    provided = _provided(_declared(tuple(project["optional-dependencies"])))
    imported = _imported_distributions(("tests",))
    undeclared = {d: sorted(p) for d, p in imported.items() if d not in provided}
    assert not undeclared, f"the tests import undeclared distributions: {undeclared}"


def _readme_table_names() -> set[str]:
    """The package names in the first column of README's dependency table."""
    readme = (ROOT / "README.md").read_text()
    table = readme.split("### Dependencies, and why", 1)[1].split("\n\n", 2)[1]
    names = set()
    for line in table.splitlines()[2:]:
        if "Debian package" in line.split("|")[1]:
            continue  # a system tool .ci/run installs (promtool, chromium), not a package of ours
        first = re.sub(r"\([^)]*\)", "", line.split("|")[1])  # drop "(npm, 1.7.1)" and the like
        names |= {n.strip("`") for n in re.findall(r"[@A-Za-z][\w./@-]*", first)}
    return names


def test_readme_table_names_exactly_what_is_declared() -> None:
    npm = set(json.loads((ROOT / "package.json").read_text())["dependencies"])
    declared = set(_declared(tuple(_pyproject()["optional-dependencies"])))
    named = _readme_table_names()
    python_named = {_normalize(n) for n in named if n not in npm}
    assert not declared - python_named, f"README does not say why: {declared - python_named}"
    assert not python_named - declared, f"README names undeclared: {python_named - declared}"
    assert npm <= named, f"README does not say why: {npm - named}"
