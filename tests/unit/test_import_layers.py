"""The top-level packages import each other in one direction only.

Layers, lowest first:

- the relayer's library (``relayer`` without its command line): no import of ``chains``;
- ``chains`` (devnet manager, anvil backend, embedded node): may use the library's
  config, errors and paths, never the command line; the embedded node
  (``chains.pyevm``) stands alone and imports nothing of ``relayer``;
- the command line (``relayer.cli``, ``relayer.__main__``) and ``bench``, which wire
  the library to local chains.

Every import counts, at module level or inside a function, since a deferred import is
still a dependency.
"""

from __future__ import annotations

import ast
import functools
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("relayer", "chains", "bench")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    base = module.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


@functools.cache
def import_graph() -> dict[str, set[str]]:
    """Every first-party module and the first-party modules it imports."""
    graph: dict[str, set[str]] = defaultdict(set)
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            module = _module_name(path)
            tree = ast.parse(path.read_text(), filename=str(path))
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    targets = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom):
                    target = _resolve(module, path.name == "__init__.py", node)
                    targets = [target, *(f"{target}.{alias.name}" for alias in node.names)]
                else:
                    continue
                graph[module] |= {t for t in targets if t.split(".")[0] in PACKAGES}
    return graph


def layer(module: str) -> str:
    """The layer a module belongs to."""
    if module.startswith(("relayer.cli", "relayer.__main__")):
        return "cli"
    if module == "chains.pyevm" or module.startswith("chains.pyevm."):
        return "node"
    return module.split(".")[0]


# Which layers each layer may import (besides itself).
ALLOWED = {
    "relayer": set(),
    "node": set(),
    "chains": {"relayer", "node"},
    "cli": {"relayer", "chains", "node"},
    "bench": {"relayer", "chains", "node", "cli"},
}


def forbidden_edges(graph: dict[str, set[str]]) -> list[str]:
    """Imports that go against the layers, as ``importer -> imported`` lines."""
    return sorted(
        f"{module} -> {target}"
        for module, targets in graph.items()
        for target in targets
        if layer(target) != layer(module) and layer(target) not in ALLOWED[layer(module)]
    )


def test_layers_form_no_cycle() -> None:
    """The allowed edges between layers are acyclic, so no import cycle can cross them."""
    order = ["relayer", "node", "chains", "cli", "bench"]
    for upper, lowers in ALLOWED.items():
        assert all(order.index(lower) < order.index(upper) for lower in lowers)


def test_no_import_goes_up_a_layer() -> None:
    assert forbidden_edges(import_graph()) == []


def test_the_check_sees_imports_inside_functions() -> None:
    """open_store imports the SQLite store inside the function; an edge up is caught."""
    assert "relayer.store.sqlite" in import_graph()["relayer.store"]
    graph = dict(import_graph())
    graph["relayer.store"] = {*graph["relayer.store"], "chains.devnet"}
    assert forbidden_edges(graph) == ["relayer.store -> chains.devnet"]


def test_the_fault_proxy_lives_with_the_tests() -> None:
    assert not (ROOT / "chains" / "faultproxy.py").exists()
    assert (ROOT / "tests" / "faultproxy.py").is_file()
