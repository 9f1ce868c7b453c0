"""The relayer's Prometheus metrics, one registry per relayer (so tests can run several).

Besides stbridge's own metrics the registry carries what operators expect of any
exporter: prometheus_client's process (CPU, memory, open files) and platform
(Python version) collectors, and ``stbridge_build_info``. The alert rules and the
Grafana dashboard under ``configs/monitoring/`` use only names declared here (a test
checks it).
"""

from __future__ import annotations

import functools
import os
import subprocess
from collections.abc import Sequence
from pathlib import Path

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)

from relayer import __version__

LATENCY_BUCKETS = (0.5, 1, 2, 3, 5, 8, 13, 21, 34, 60, 120, 300, 600)
RPC_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class Metrics:
    """Every metric the relayer exports. Lanes are labelled by chain names."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        lane = ["origin", "destination"]
        self.dispatched = Counter(
            "stbridge_messages_dispatched", "Messages indexed on their origin", lane, registry=r
        )
        self.delivered = Counter(
            "stbridge_messages_delivered", "Messages delivered on their destination", lane,
            registry=r,
        )  # fmt: skip
        self.failed = Counter(
            "stbridge_messages_failed", "Delivery attempts that failed (retried later)", lane,
            registry=r,
        )  # fmt: skip
        self.bounced = Counter(
            "stbridge_messages_bounced", "Transfers the destination refused and sent back", lane,
            registry=r,
        )  # fmt: skip
        self.backlog = Gauge(
            "stbridge_backlog_messages", "Messages of a lane not yet delivered", lane, registry=r
        )
        self.oldest_pending_age = Gauge(
            "stbridge_backlog_oldest_age_seconds",
            "Age of the oldest undelivered message of a lane",
            lane,
            registry=r,
        )
        self.latency = Histogram(
            "stbridge_delivery_latency_seconds",
            "From dispatch block to delivery block",
            lane,
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.lane_halted = Gauge(
            "stbridge_lane_halted", "1 when a lane stopped on a fault it will not guess through",
            lane, registry=r,
        )  # fmt: skip
        self.checkpoint_index = Gauge(
            "stbridge_checkpoint_index", "Latest checkpoint index signed, by validator",
            ["origin", "validator"], registry=r,
        )  # fmt: skip
        self.cursor_block = Gauge(
            "stbridge_cursor_block", "Last indexed block", ["chain"], registry=r
        )
        self.head_block = Gauge("stbridge_head_block", "Chain head seen", ["chain"], registry=r)
        self.rpc_requests = Counter(
            "stbridge_rpc_requests", "JSON-RPC requests", ["chain", "method"], registry=r
        )
        self.rpc_errors = Counter(
            "stbridge_rpc_errors", "JSON-RPC failures", ["chain", "method", "kind"], registry=r
        )
        tx = ["chain"]
        self.tx_submitted = Counter(
            "stbridge_transactions_submitted", "Transactions broadcast", tx, registry=r
        )
        self.tx_confirmed = Counter(
            "stbridge_transactions_confirmed", "Transactions mined", tx, registry=r
        )
        self.tx_replaced = Counter(
            "stbridge_transactions_replaced", "Transactions replaced with a higher fee", tx,
            registry=r,
        )  # fmt: skip
        self.tx_reverted = Counter(
            "stbridge_transactions_reverted", "Transactions mined but reverted", tx, registry=r
        )
        self.balance = Gauge(
            "stbridge_relayer_balance_eth", "Native balance of each relayer key",
            ["chain", "address"], registry=r,
        )  # fmt: skip
        self.dvp_settled = Counter(
            "stbridge_dvp_settled", "Payment legs claimed with a revealed secret", ["chain"],
            registry=r,
        )  # fmt: skip
        self.dvp_refunded = Counter(
            "stbridge_dvp_refunded", "Expired locks refunded", ["chain"], registry=r
        )
        self.dvp_open = Gauge(
            "stbridge_dvp_open_locks", "Hash-time locks open, by chain", ["chain"], registry=r
        )
        self.dvp_expiring = Gauge(
            "stbridge_dvp_expiring_locks",
            "Open locks with no revealed secret and less than the DvP margin left",
            ["chain"], registry=r,
        )  # fmt: skip
        self.dvp_settlement = Histogram(
            "stbridge_dvp_settlement_seconds",
            "From the block revealing a secret to the block of the relayer's claim",
            ["chain"], buckets=LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        # delivery policy (pipeline/policy.py) and terminal refusals
        self.ignored = Counter(
            "stbridge_messages_ignored_total",
            "Messages the delivery policy does not carry (stored as ignored, never sent)",
            ["lane"], registry=r,
        )  # fmt: skip
        self.refused = Counter(
            "stbridge_messages_refused_total",
            "Messages refused for good: a revert no retry can change (by error name)",
            ["lane", "reason"], registry=r,
        )  # fmt: skip
        self.bisections = Counter(
            "stbridge_batch_bisections_total",
            "Batches split in halves because their simulation reverted",
            ["lane"], registry=r,
        )  # fmt: skip
        self.simulations = Counter(
            "stbridge_batch_simulations_total",
            "eth_call simulations of processBatch before sending (bisection included)",
            ["lane"], registry=r,
        )  # fmt: skip

        # --- operators' conventions, gas and the fee cap (issue 12) ---
        ProcessCollector(registry=r)
        PlatformCollector(registry=r)
        self.build_info = Gauge(
            "stbridge_build_info", "Always 1; the running stbridge's version and commit",
            ["version", "commit"], registry=r,
        )  # fmt: skip
        self.build_info.labels(__version__, build_commit()).set(1)
        self.gas_spent = Counter(
            "stbridge_gas_spent", "Gas used by the relayer's delivery transactions, by lane",
            lane, registry=r,
        )  # fmt: skip
        self.fees_paid = Counter(
            "stbridge_fees_paid_eth", "Fees paid for the relayer's delivery transactions (ETH)",
            lane, registry=r,
        )  # fmt: skip
        self.fee_above_cap = Gauge(
            "stbridge_fee_above_cap",
            "1 while the chain's base fee is above its max_fee_per_gas and sends wait",
            ["chain"], registry=r,
        )  # fmt: skip
        self.fee_cap_waits = Counter(
            "stbridge_fee_cap_waits",
            "Times sends began to wait for the base fee to fall under the cap",
            ["chain"], registry=r,
        )  # fmt: skip
        self._health_metrics(r)

    def _health_metrics(self, r: CollectorRegistry) -> None:
        """Chain reachability, RPC endpoints and latency, and the store's own gauges."""
        self.chain_last_success = Gauge(
            "stbridge_chain_last_rpc_success_timestamp_seconds",
            "Unix time of the chain's last successful RPC answer", ["chain"], registry=r,
        )  # fmt: skip
        self.chain_up_gauge = Gauge(
            "stbridge_chain_up",
            "1 while the chain answers, 0 from a failed round until its next answer",
            ["chain"], registry=r,
        )  # fmt: skip
        self.chain_waiting = Gauge(
            "stbridge_chain_waiting",
            "1 while the relayer waits for the chain to answer before starting its parts",
            ["chain"], registry=r,
        )  # fmt: skip
        self.lane_waiting = Gauge(
            "stbridge_lane_waiting",
            "1 while a lane waits for something other than messages (reason in the store)",
            ["origin", "destination"], registry=r,
        )  # fmt: skip
        self.rpc_url_requests = Counter(
            "stbridge_rpc_url_requests",
            "JSON-RPC attempts by endpoint (credentials stripped) and outcome",
            ["chain", "url", "outcome"], registry=r,
        )  # fmt: skip
        self.rpc_active_url_gauge = Gauge(
            "stbridge_rpc_active_url", "1 for the endpoint a chain's requests go to",
            ["chain", "url"], registry=r,
        )  # fmt: skip
        self.rpc_latency_seconds = Histogram(
            "stbridge_rpc_latency_seconds", "JSON-RPC attempt duration", ["chain", "method"],
            buckets=RPC_BUCKETS, registry=r,
        )  # fmt: skip
        self.backlog_by_status = Gauge(
            "stbridge_backlog_by_status_messages",
            "Messages of a lane by status (from the store)",
            ["origin", "destination", "status"], registry=r,
        )  # fmt: skip

    # RpcMetrics protocol (relayer.chain.rpc)
    def rpc_request(self, chain: str, method: str) -> None:
        self.rpc_requests.labels(chain, method).inc()

    def rpc_error(self, chain: str, method: str, kind: str) -> None:
        self.rpc_errors.labels(chain, method, kind).inc()

    def rpc_url_request(self, chain: str, url: str, outcome: str) -> None:
        self.rpc_url_requests.labels(chain, url, outcome).inc()

    def rpc_latency(self, chain: str, method: str, seconds: float) -> None:
        self.rpc_latency_seconds.labels(chain, method).observe(seconds)

    def rpc_active_url(self, chain: str, url: str, urls: Sequence[str]) -> None:
        for each in urls:
            self.rpc_active_url_gauge.labels(chain, each).set(1 if each == url else 0)

    # HealthMetrics protocol (relayer.chain.health)
    def chain_answered(self, chain: str, when: float) -> None:
        self.chain_last_success.labels(chain).set(when)

    def chain_up(self, chain: str, up: bool) -> None:
        self.chain_up_gauge.labels(chain).set(1 if up else 0)

    def render(self) -> bytes:
        """The text exposition format."""
        return generate_latest(self.registry)


@functools.cache
def build_commit() -> str:
    """The source commit: $STBRIDGE_COMMIT (set by a build), else git's, else 'unknown'."""
    given = os.environ.get("STBRIDGE_COMMIT", "").strip()
    if given:
        return given[:12]
    root = Path(__file__).resolve().parents[2]
    if not (root / ".git").exists():
        return "unknown"
    try:
        found = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short=12", "HEAD"],
            capture_output=True, text=True, timeout=2, check=False,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return found.stdout.strip() or "unknown"
