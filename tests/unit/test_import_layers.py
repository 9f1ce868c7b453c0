"""The top-level packages import each other in one direction only.

Layers, lowest first:

- ``chains`` (devnet manager, anvil backend, embedded node): running local chains. It
  imports nothing of ``relayer``: it takes its chains as ``chains.spec.ChainSpec``, the
  state directory as a parameter, and raises ``chains.errors``; the embedded node
  (``chains.pyevm``) stands alone too;
- the relayer's library (``relayer`` without its command line): no import of ``chains``;
- the command line (``relayer.cli``, ``relayer.__main__``): the one place in
  ``relayer`` that imports ``chains``; it drives the devnet, building the ChainSpecs
  from the config and mapping chains' errors to its own (``relayer/cli/devnet.py``);
- ``bench``, which may use all of the above. The tests (not checked here) may too.

So no import cycle runs between the packages ``relayer`` and ``chains``: the only
edges between them go from ``relayer.cli`` down to ``chains``.

Inside ``relayer``, the rooms (one package per product or part, see
docs/architecture.md) import each other downwards only, as ``ROOMS`` lists:
``core`` is pure and imports no other room; the daemon never reaches the issuer's or
the traders' tools; the tools never reach the daemon; the command line sits on top.

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
    "chains": {"node"},
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
    order = ["node", "chains", "relayer", "cli", "bench"]
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


def package_edges(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """The import graph collapsed to top-level packages (``relayer``, ``chains``, ...)."""
    edges: dict[str, set[str]] = defaultdict(set)
    for module, targets in graph.items():
        for target in targets:
            if target.split(".")[0] != module.split(".")[0]:
                edges[module.split(".")[0]].add(target.split(".")[0])
    return edges


def test_no_cycle_between_relayer_and_chains() -> None:
    """At package level: relayer -> chains (its command line), never chains -> relayer."""
    edges = package_edges(import_graph())
    assert "chains" in edges["relayer"]
    assert "relayer" not in edges["chains"], sorted(
        f"{m} -> {t}" for m, ts in import_graph().items() if m.startswith("chains")
        for t in ts if t.startswith("relayer")
    )  # fmt: skip


def test_relayer_imports_chains_only_from_its_command_line() -> None:
    users = {
        module
        for module, targets in import_graph().items()
        if module.startswith("relayer") and any(t.startswith("chains") for t in targets)
    }
    assert users and all(m.startswith("relayer.cli.") for m in users), users


def test_the_check_catches_chains_importing_relayer() -> None:
    graph = dict(import_graph())
    graph["chains.devnet"] = {*graph["chains.devnet"], "relayer.config"}
    assert forbidden_edges(graph) == ["chains.devnet -> relayer.config"]
    assert "relayer" in package_edges(graph)["chains"]


def test_the_fault_proxy_lives_with_the_tests() -> None:
    assert not (ROOT / "chains" / "faultproxy.py").exists()
    assert (ROOT / "tests" / "faultproxy.py").is_file()


# The rooms of the relayer's library, lowest first, and which rooms each may import.
# "base" is the handful of top-level modules every room shares (config, errors, paths,
# inputs, countries). The order is a topological order of the edges below: no cycle.
ROOMS: dict[str, set[str]] = {
    "base": set(),
    "core": set(),  # pure: not even the config
    "telemetry": {"base"},
    "store": {"base", "core", "telemetry"},
    "chain": {"base", "core", "telemetry", "store"},  # the TxSender keeps its txs in the store
    # the record, the deployer, and a tool's session on a deployment
    "deployment": {"base", "core", "telemetry", "store", "chain"},
    "bridge": {"base", "core", "telemetry", "store", "chain", "deployment"},
    "dvp": {"base", "core", "telemetry", "store", "chain", "deployment"},
    # the issuer's agent transfers ask the same precheck as a bridge send
    "issuer": {"base", "core", "telemetry", "store", "chain", "deployment", "bridge"},
    # the daemon runs the DvP watcher and reads the protocol's margins (see DAEMON_DVP)
    "daemon": {"base", "core", "telemetry", "store", "chain", "deployment", "dvp"},
    # the issuer's cash flows and votes: a snapshot of the issuer's books at a record date
    "distribution": {"base", "core", "telemetry", "store", "chain", "deployment", "bridge"}
    | {"issuer"},
    "vote": {"base", "core", "telemetry", "store", "chain", "deployment", "bridge", "issuer"}
    | {"distribution"},
    # the console reads what the daemon runs and the issuer's books; the daemon gets its
    # routes injected (Relayer(console=console_routes)), so it never imports the console
    "console": {"base", "core", "telemetry", "store", "chain", "deployment", "bridge", "dvp"}
    | {"issuer", "daemon", "distribution", "vote"},
    "cli": {"base", "core", "telemetry", "store", "chain", "deployment", "bridge", "dvp"}
    | {"issuer", "daemon", "console", "distribution", "vote"},
}
BASE = {"relayer", "relayer.config", "relayer.errors", "relayer.paths", "relayer.inputs"}
BASE |= {"relayer.countries", "relayer.__version__"}
# Of the DvP package, the daemon may use the protocol's pure part and the watcher only.
DAEMON_DVP = ("relayer.dvp.protocol", "relayer.dvp.watcher")
# Modules that do I/O (or drive it), which nothing in core imports.
IO_MODULES = {"asyncio", "socket", "ssl", "http", "urllib", "subprocess", "sqlite3", "os"}
IO_MODULES |= {"pathlib", "shutil", "io", "tempfile", "logging", "aiohttp", "httpx"}
IO_MODULES |= {"requests", "websockets", "psycopg", "psycopg_pool", "web3", "threading"}


def room(module: str) -> str:
    """The room of one of the library's modules (``relayer.<room>...``)."""
    if module == "relayer" or module.startswith(tuple(f"{b}." for b in BASE - {"relayer"})):
        return "base"
    if module in BASE:
        return "base"
    name = module.split(".")[1]
    return "cli" if name == "__main__" else name


def room_edges(graph: dict[str, set[str]]) -> list[str]:
    """Imports between the library's rooms that ``ROOMS`` does not allow."""
    bad = []
    for module, targets in graph.items():
        if not module.startswith("relayer"):
            continue
        for target in targets:
            if not target.startswith("relayer") or room(target) == room(module):
                continue
            if room(module) not in ROOMS or room(target) not in ROOMS:
                bad.append(f"{module} -> {target} (a new room: add it to ROOMS)")
            elif room(target) not in ROOMS[room(module)]:
                bad.append(f"{module} -> {target}")
            elif (room(module), room(target)) == ("daemon", "dvp") and not target.startswith(
                DAEMON_DVP
            ):
                bad.append(f"{module} -> {target} (the daemon runs only the watcher)")
    return sorted(bad)


def test_rooms_form_no_cycle() -> None:
    """Each room imports only rooms listed before it, so no cycle can run between rooms."""
    order = list(ROOMS)
    for upper, lowers in ROOMS.items():
        assert all(order.index(lower) < order.index(upper) for lower in lowers), upper


def test_no_import_goes_up_a_room() -> None:
    assert room_edges(import_graph()) == []


def test_the_room_check_catches_an_edge_up() -> None:
    """The daemon reaching the issuer's tools, or DvP actions, is caught, as is core
    importing the config."""
    graph = dict(import_graph())
    lane = "relayer.daemon.lane"
    graph[lane] = {*graph[lane], "relayer.issuer.captable", "relayer.dvp.actions"}
    graph["relayer.core.merkle"] = {*graph["relayer.core.merkle"], "relayer.config"}
    assert room_edges(graph) == [
        "relayer.core.merkle -> relayer.config",
        "relayer.daemon.lane -> relayer.dvp.actions (the daemon runs only the watcher)",
        "relayer.daemon.lane -> relayer.issuer.captable",
    ]


def _stdlib_and_third_party_imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_core_does_no_io() -> None:
    for path in sorted((ROOT / "relayer" / "core").glob("*.py")):
        assert not _stdlib_and_third_party_imports(path) & IO_MODULES, path.name


def test_each_product_lives_in_one_package() -> None:
    """The old mixed packages are gone; DvP is one package."""
    relayer = ROOT / "relayer"
    assert not (relayer / "actions").exists() and not (relayer / "pipeline").exists()
    assert {p.stem for p in (relayer / "dvp").glob("*.py")} >= {
        "protocol",
        "watcher",
        "actions",
        "files",
        "status",
        "verify",
    }
    assert not [p for p in relayer.rglob("*dvp*.py") if p.parent.name not in {"dvp", "cli"}]
