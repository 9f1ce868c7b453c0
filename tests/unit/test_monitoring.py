"""configs/monitoring: the alert rules pass `promtool check rules`, and every metric the
rules and the Grafana dashboard name is one the relayer exports."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from relayer.telemetry.metrics import Metrics
from tests.helpers import ROOT

MONITORING = ROOT / "configs" / "monitoring"
RULES = MONITORING / "alerts.yml"
DASHBOARD = MONITORING / "grafana-dashboard.json"
# series Prometheus makes itself, not the relayer
PROMETHEUS_OWN = {"up"}
_SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "summary": ("_count", "_sum", "_created"),
    "info": ("_info",),
}
_NAME = re.compile(r"\b((?:stbridge|process|python)_[a-zA-Z0-9_]+|up)\b(?!\s*\()")


def exported_names() -> set[str]:
    """Every series name a relayer's registry can expose, with its type's suffixes."""
    names: set[str] = set()
    for family in Metrics().registry.collect():
        names.add(family.name)
        names.update(family.name + suffix for suffix in _SUFFIXES.get(family.type, ()))
        names.update(sample.name for sample in family.samples)
    return names


def rule_expressions() -> list[str]:
    # the rules file is YAML; its expressions are the `expr:` values, one or folded lines
    text = RULES.read_text()
    found = re.findall(r"expr: >\n((?:          .*\n)+)|expr: (.+)\n", text)
    return [block or line for block, line in found]


def dashboard_expressions() -> list[str]:
    data = json.loads(DASHBOARD.read_text())
    found = [t["expr"] for p in data["panels"] for t in p.get("targets", [])]
    found += [v["definition"] for v in data["templating"]["list"] if "definition" in v]
    return found


def test_alert_rules_pass_promtool() -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed: apt-get install prometheus (.ci/run does it)")
    result = subprocess.run(
        [promtool, "check", "rules", str(RULES)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 8 rules found" in result.stdout


@pytest.mark.parametrize("source", ["rules", "dashboard"])
def test_every_metric_named_exists(source: str) -> None:
    expressions = rule_expressions() if source == "rules" else dashboard_expressions()
    assert len(expressions) >= 8
    named = {m for e in expressions for m in _NAME.findall(e)}
    assert {"stbridge_lane_halted", "stbridge_relayer_balance_eth"} <= named or source != "rules"
    missing = sorted(named - exported_names() - PROMETHEUS_OWN)
    assert not missing, f"{source} name metrics the relayer does not export: {missing}"


def test_the_dashboard_imports_with_a_datasource_input() -> None:
    data = json.loads(DASHBOARD.read_text())
    assert data["__inputs"][0]["name"] == "DS_PROMETHEUS"
    titles = {p["title"] for p in data["panels"]}
    for wanted in (
        "Backlog by lane", "Oldest undelivered message", "Delivered and failed per second",
        "Delivery latency", "RPC errors per second", "Relayer key balances", "Chain up",
    ):  # fmt: skip
        assert wanted in titles
    ids = [p["id"] for p in data["panels"]]
    assert len(ids) == len(set(ids))


def test_process_platform_and_build_info_are_exported() -> None:
    text = Metrics().render().decode()
    assert "process_resident_memory_bytes" in text
    assert "python_info{" in text
    assert re.search(r'stbridge_build_info\{commit="[^"]+",version="\d', text)


def test_rules_name_what_the_test_reads(tmp_path: Path) -> None:
    """The expression reader sees every rule (a rule it skipped would go unchecked)."""
    assert len(rule_expressions()) == RULES.read_text().count("- alert:")
