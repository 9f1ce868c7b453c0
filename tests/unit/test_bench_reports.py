"""Benchmark reports keep their figures and compare them with the previous report's, so a
benchmark cannot drift unnoticed: a figure more than 15% worse under the same load is
flagged in the report and on the console."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.harness import compare_figures, lower_is_better, previous_record, write_report

IDLE = [
    "- commit: abc123def456",
    "- machine: 2 cores (x86_64), 23 GiB, Python 3.11.7",
    "- load beside it: none (nothing else of ours running); load average at the start 0.5 0.4 0.3",
    "- settings: --busy 0, --runs 3",
    "",
]
BUSY = [line.replace("none (nothing else of ours running)", "stress-ng --cpu 2") for line in IDLE]


def _sidecar(directory: Path, name: str, date: str, load: str, **figures: float) -> None:
    record = {"name": name, "date": date, "time": f"{date}T00:00:00Z", "commit": f"c-{date}",
              "machine": "m", "load": load, "settings": "", "figures": figures}  # fmt: skip
    (directory / f"{name}-{date}.json").write_text(json.dumps(record))


def test_figures_are_written_beside_the_report_with_their_provenance(tmp_path: Path) -> None:
    path = write_report("relay-latency", "Latency", IDLE, figures={"p99_blocks": 2.0},
                        directory=tmp_path)  # fmt: skip
    record = json.loads(path.with_suffix(".json").read_text())
    assert record["figures"] == {"p99_blocks": 2.0}
    assert record["commit"] == "abc123def456"
    assert record["load"] == "none (nothing else of ours running)"  # not the load average
    assert record["settings"] == "--busy 0, --runs 3"
    assert record["date"] in path.name
    assert "None: no earlier relay-latency-<date>.json" in path.read_text()


def test_a_figure_worse_by_more_than_15_percent_is_flagged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    load = "none (nothing else of ours running)"
    _sidecar(tmp_path, "relay", "2026-01-01", load, per_s=1000.0, p99_s=2.0, cpu_seconds=10.0)
    _sidecar(tmp_path, "relay", "2026-02-01", load, per_s=2000.0, p99_s=2.0, cpu_seconds=10.0)
    figures = {"per_s": 1600.0, "p99_s": 2.2, "cpu_seconds": 12.0, "new_figure": 1.0}
    path = write_report("relay", "Relay", IDLE, figures=figures, directory=tmp_path)
    text = path.read_text()
    # the newest earlier one, not the first
    assert "## Against the previous report (2026-02-01, c-2026-02-01)" in text
    rows = {line.split(" | ")[0].strip("| "): line for line in text.splitlines() if "|" in line}
    assert "-20.0%" in rows["per_s"] and "**worse**" in rows["per_s"]  # a rate fell 20%
    assert "+10.0%" in rows["p99_s"] and "**worse**" not in rows["p99_s"]  # within 15%
    assert "+20.0%" in rows["cpu_seconds"] and "**worse**" in rows["cpu_seconds"]
    assert "new" in rows["new_figure"]
    assert "2 figure(s) worse by more than 15%" in text
    assert "2 figure(s) worse by more than 15%" in capsys.readouterr().out  # printed too


def test_only_a_report_under_the_same_load_is_compared(tmp_path: Path) -> None:
    _sidecar(tmp_path, "relay", "2026-01-01", "none (nothing else of ours running)", per_s=100.0)
    _sidecar(tmp_path, "relay", "2026-02-01", "stress-ng --cpu 2", per_s=50.0)
    _sidecar(tmp_path, "relay-rate500", "2026-03-01", "stress-ng --cpu 2", per_s=1.0)
    busy = previous_record(tmp_path, "relay", "stress-ng --cpu 2")
    assert busy is not None and busy["date"] == "2026-02-01"  # not relay-rate500's
    path = write_report("relay", "Relay", BUSY, figures={"per_s": 60.0}, directory=tmp_path)
    assert "(2026-02-01, c-2026-02-01)" in path.read_text()
    assert "+20.0%" in path.read_text()
    assert previous_record(tmp_path, "relay", "nothing like it") is None


def test_improvements_are_not_flagged_and_names_say_which_way_is_better() -> None:
    previous = {"date": "d", "commit": "c", "load": "l",
                "figures": {"logs_per_s": 100.0, "peak_rss_mb": 200.0, "gone": 1.0}}  # fmt: skip
    lines = compare_figures({"logs_per_s": 150.0, "peak_rss_mb": 100.0}, previous)
    assert not any("**worse**" in line for line in lines)
    assert any(line.startswith("| gone |") and "gone" in line for line in lines)
    assert lower_is_better("latency_p99_blocks") and lower_is_better("gas_per_transfer")
    assert lower_is_better("push_s") and not lower_is_better("transfers_per_s")
    assert not lower_is_better("drain_ceiling_ratio") and not lower_is_better("tx_per_s")


def test_a_report_with_the_same_settings_is_compared_first_and_a_difference_is_said(
    tmp_path: Path,
) -> None:
    load = "none (nothing else of ours running)"
    full = "--busy 0, --runs 3"  # the settings of IDLE
    _sidecar(tmp_path, "relay", "2026-01-01", load, per_s=4000.0)
    record = json.loads((tmp_path / "relay-2026-01-01.json").read_text())
    record["settings"] = full
    (tmp_path / "relay-2026-01-01.json").write_text(json.dumps(record))
    # a newer short development run, other settings: not what a full run is held to
    _sidecar(tmp_path, "relay", "2026-02-01", load, per_s=2000.0)
    chosen = previous_record(tmp_path, "relay", load, settings=full)
    assert chosen is not None and chosen["date"] == "2026-01-01"
    assert previous_record(tmp_path, "relay", load)["date"] == "2026-02-01"  # type: ignore[index]
    text = write_report("relay", "Relay", IDLE, figures={"per_s": 3000.0},
                        directory=tmp_path).read_text()  # fmt: skip
    assert "(2026-01-01, c-2026-01-01)" in text and "Settings differ" not in text
    assert "-25.0%" in text
    # with no report of the same settings, the newest under the same load, and it says so
    other = [line.replace("--runs 3", "--runs 1") for line in IDLE]
    text = write_report("relay", "Relay", other, figures={"per_s": 3000.0},
                        directory=tmp_path).read_text()  # fmt: skip
    assert "Settings differ" in text and "`--busy 0, --runs 1`" in text
