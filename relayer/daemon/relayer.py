"""The relayer daemon: every pipeline stage of every lane under one asyncio.TaskGroup.

Per chain: an indexer (its mailbox and bridge logs), a sender and a confirmer for
the relayer's key. Per origin: the mirrored tree and its checkpoint signers (or a
collector of remote validators' signatures). Per lane (origin to destination): a
worker that proves, batches and submits. A failure in any task surfaces through
the TaskGroup instead of dying silently; stopping cancels the group, and a restart
resumes from the store.

The telemetry server and a watcher per chain start first. A chain that does not answer
at start *waits*: its indexer, confirmer and the lanes that touch it start when it
answers (its chain id and genesis checked then), the other chains' parts run meanwhile.
A wrong chain id or a genesis that differs from the store's stays fatal. The store's
gauges (backlog, oldest pending age) and the key balances have timers of their own, so
a chain that hangs freezes neither.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp import web

from relayer.chain.health import ChainHealth
from relayer.chain.rpc import ChainRpc
from relayer.chain.sender import TxSender
from relayer.config import ChainConfig, Config
from relayer.daemon.confirmer import Confirmer
from relayer.daemon.heap import freeze_startup_heap
from relayer.daemon.indexer import ChainIndexer, LogSink, fan_out
from relayer.daemon.lane import LaneConfig, LaneWorker
from relayer.daemon.origin import MailboxSink, OriginTree
from relayer.daemon.policy import DeliveryPolicy
from relayer.daemon.validator import CheckpointSigner, RemoteCheckpointCollector
from relayer.daemon.waiting import LaneReasons
from relayer.deployment.record import Deployment
from relayer.dvp.protocol import margin_for
from relayer.dvp.watcher import DvpWatcher
from relayer.errors import ChainError, StbridgeError, StoreError, WrongChain
from relayer.store import Status, Store, TxRow
from relayer.store.writer import WriterGuard
from relayer.telemetry.logging import get_logger
from relayer.telemetry.metrics import Metrics
from relayer.telemetry.server import RouteSite, TelemetryServer

BUDGET_STATE = "policy.open_gas_spent"  # the store state key of the open policy's hour

ConsoleRoutes = Callable[["Relayer"], Callable[[web.Application], None]]
"""Builds the console's routes for a relayer (relayer.console.server.console_routes)."""


@dataclass
class RelayerParts:
    """The running pieces, for status lines, readiness and tests."""

    rpcs: dict[str, ChainRpc] = field(default_factory=dict)
    origins: dict[str, OriginTree] = field(default_factory=dict)
    indexers: dict[str, ChainIndexer] = field(default_factory=dict)
    signers: dict[str, CheckpointSigner] = field(default_factory=dict)
    senders: dict[str, TxSender] = field(default_factory=dict)
    confirmers: dict[str, Confirmer] = field(default_factory=dict)
    lanes: dict[tuple[str, str], LaneWorker] = field(default_factory=dict)
    dvp: DvpWatcher | None = None


def _url_host(host: str) -> str:
    """A bind address as a URL host: the wildcard as localhost, IPv6 in brackets."""
    if host in ("0.0.0.0", "::", ""):  # noqa: S104 - naming it, not binding it
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


class Relayer:
    """Relays every lane between the config's chains."""

    def __init__(
        self,
        config: Config,
        deployment: Deployment,
        store: Store,
        *,
        metrics: Metrics | None = None,
        serve_telemetry: bool = True,
        console: ConsoleRoutes | None = None,
    ) -> None:
        self.config = config
        self.deployment = deployment
        self.store = store
        self.metrics = metrics or Metrics()
        self.parts = RelayerParts()
        self.serve_telemetry = serve_telemetry
        self.telemetry: TelemetryServer | None = None
        self.started = asyncio.Event()  # every chain answered and all parts run
        self.serving = asyncio.Event()  # telemetry, watchers and gauges run
        self.log = get_logger("relayer")
        self._balances: dict[str, int] = {}  # relayer key balance per chain, last seen
        self.ready_chains: set[str] = set()  # checked and with their parts running
        self.waiting: dict[str, str] = {}  # chain -> why its parts have not started yet
        self._group: asyncio.TaskGroup | None = None
        self._start_lock = asyncio.Lock()
        self._dvp_started = False
        self.writer: WriterGuard | None = None  # one relayer per store and key (store/writer.py)
        self.console_routes = console  # None: no console (tools, benchmarks, most tests)
        self.console_site: RouteSite | None = None  # the console on a port of its own
        self.console_url: str | None = None  # where the console answers, once started
        self.policy = DeliveryPolicy.from_config(config, deployment)

    def _make_rpcs(self) -> None:
        """A health record and an RPC client per chain; nothing is asked yet."""
        for chain in self.config.chains:
            health = ChainHealth(chain.name, chain.grace, metrics=self.metrics, announce=True)
            self.parts.rpcs[chain.name] = ChainRpc(chain, metrics=self.metrics, health=health)

    async def _check_chain(self, chain: ChainConfig) -> None:
        """The node serves the configured chain, and the store belongs to it (fatal if not)."""
        rpc = self.parts.rpcs[chain.name]
        answered = await rpc.chain_id()
        if answered != chain.chain_id:
            raise WrongChain(
                f"{rpc.where()} is chain {answered}, the config says {chain.chain_id}: "
                "fix chains.rpc_url or chain_id"
            )
        genesis = (await rpc.block(0)).hash
        key = f"genesis:{chain.chain_id}"
        known = await self.store.get_state(key)
        if known is None:
            await self.store.set_state(key, genesis)
        elif known != genesis:
            raise StoreError(
                f"the store {self.config.relayer.store} belongs to an earlier chain "
                f"{chain.name} (its genesis block differs; the chain was restarted): "
                "remove the store or set relayer.store to a new one"
            )

    def _make_dvp(self) -> None:
        config, parts = self.config, self.parts
        parts.dvp = DvpWatcher(
            store=self.store,
            rpcs=parts.rpcs,
            senders=parts.senders,  # filled as chains start
            refund_expired=config.relayer.refund_expired_locks,
            warn_seconds=max(
                margin_for(config.dvp.margin_seconds, a, b)
                for a in config.chains
                for b in config.chains
            ),
            poll_interval=config.relayer.poll_interval,
            metrics=self.metrics,
        )

    async def _build_chain(self, chain: ChainConfig) -> None:
        """The parts of one chain: indexer, origin tree, signers, sender, confirmer."""
        config, deployment, parts = self.config, self.deployment, self.parts
        assert parts.dvp is not None
        names = {c.chain_id: c.name for c in config.chains}
        deployed = deployment.chain(chain.name)
        mailbox = deployed.address("Mailbox")
        bridge = deployed.contracts.get("TokenBridge")
        origin = OriginTree(chain.name, chain.chain_id, mailbox)
        sink: LogSink = MailboxSink(
            chain_name=chain.name,
            chain_id=chain.chain_id,
            origin=origin,
            store=self.store,
            names_by_id=names,
            bridge=bridge,
            metrics=self.metrics,
            policy=self.policy,
        )
        addresses = [mailbox] + ([bridge] if bridge else [])
        timelock = deployed.contracts.get("HashedTimelock")
        if timelock:  # its logs feed the DvP watcher
            addresses.append(timelock)
            sink = fan_out(sink, parts.dvp.watch(chain.name, chain.chain_id, timelock))
        indexer = ChainIndexer(
            parts.rpcs[chain.name],
            self.store,
            addresses=addresses,
            sink=sink,
            start_block=deployed.start_block,
            confirmations=chain.confirmations,
            poll_interval=config.poll_interval(chain),
            chunk_blocks=config.relayer.log_chunk_blocks,
            metrics=self.metrics,
        )
        # the cursor first, then the tree: it then holds every leaf below the cursor,
        # even if another relayer sharing the store moves the cursor in between
        await indexer.resume()
        await origin.load(self.store)
        parts.origins[chain.name] = origin
        parts.indexers[chain.name] = indexer
        if config.validators.mode == "in-process":
            parts.signers[chain.name] = CheckpointSigner(
                origin=origin,
                indexer=indexer,
                rpc=parts.rpcs[chain.name],
                keys=config.accounts.validators,
                store=self.store,
                metrics=self.metrics,
            )
        sender = TxSender(
            parts.rpcs[chain.name], config.accounts.relayer, self.store, metrics=self.metrics
        )
        parts.senders[chain.name] = sender
        confirmer = Confirmer(
            sender=sender,
            store=self.store,
            confirmations=chain.confirmations,
            poll_interval=config.poll_interval(chain),
            stuck_after=config.relayer.stuck_after or max(chain.block_time * 6, 6.0),
            chain_names=names,
            mailbox=mailbox,
            metrics=self.metrics,
            # a relayer sharing the store silent for a lease period is taken for dead
            adopt_after=config.relayer.lease_seconds,
            max_attempts=config.relayer.max_attempts,
            block_time=chain.block_time,
        )
        confirmer.on_out_of_gas = self._on_out_of_gas
        confirmer.on_reverted = self._on_reverted
        confirmer.on_mined = self._on_mined
        parts.confirmers[chain.name] = confirmer

    def _build_lane(self, origin_chain: ChainConfig, destination: ChainConfig) -> LaneWorker:
        config, parts = self.config, self.parts
        lane = LaneConfig(
            origin_name=origin_chain.name,
            destination_name=destination.name,
            destination_mailbox=self.deployment.chain(destination.name).address("Mailbox"),
            validators=[k.address for k in config.accounts.validators],
            threshold=config.validators.threshold,
            batch_max=config.relayer.batch_max_messages,
            gas_budget=config.relayer.batch_gas_budget,
            batch_wait=config.relayer.batch_wait,
            poll_interval=config.relayer.poll_interval,
            lease_seconds=config.relayer.lease_seconds,
            block_time=destination.block_time,
        )
        worker = LaneWorker(
            lane,
            origin=parts.origins[origin_chain.name],
            origin_indexer=parts.indexers[origin_chain.name],
            destination_rpc=parts.rpcs[destination.name],
            destination_chain_id=destination.chain_id,
            sender=parts.senders[destination.name],
            store=self.store,
            metrics=self.metrics,
            policy=self.policy,
            max_attempts=config.relayer.max_attempts,
        )
        parts.lanes[(origin_chain.name, destination.name)] = worker
        return worker

    async def _reconsider_ignored(self) -> None:
        """Ignored messages the policy carries now (the operator widened it): pending."""
        page = 100_000
        while True:
            rows = await self.store.messages(status=Status.IGNORED, limit=page)
            carried = [
                r.id
                for r in rows
                if self.policy.verdict(r.origin, r.destination, r.sender, r.recipient).carried
            ]
            await self.store.unignore(carried)
            if carried:
                self.log.info("ignored messages the policy now carries", count=len(carried))
            if len(rows) < page or not carried:
                return

    def _on_reverted(self, tx: TxRow) -> None:
        """A batch reverted as a whole: its lane simulates and bisects the next batches."""
        for (o, d), lane in self.parts.lanes.items():
            if tx.purpose == f"processBatch {o}->{d}":
                lane.batch_reverted()

    def _on_mined(self, tx: TxRow, gas_used: int) -> None:
        """A delivery mined: its lane's gas model learns what the batch used."""
        for (o, d), lane in self.parts.lanes.items():
            if tx.purpose == f"processBatch {o}->{d}":
                lane.gas.observe(len(tx.message_ids), gas_used)

    def _on_out_of_gas(self, tx: TxRow) -> None:
        """A delivery ran out of gas: its lane estimates its next batch afresh."""
        for (o, d), lane in self.parts.lanes.items():
            if tx.purpose == f"processBatch {o}->{d}":
                lane.gas.ran_out()

    async def run(self) -> None:
        """Run until cancelled (or a fatal error: wrong chain, store of another chain)."""
        try:
            writer = self.writer = await self.store.take_writer(
                self.config.accounts.relayer.address,
                lease_seconds=self.config.relayer.lease_seconds,
            )
            await self._reconsider_ignored()
            if self.policy.mode == "open":
                saved = await self.store.get_state(BUDGET_STATE)
                if saved:
                    self.policy.budget.restore(saved)
            self._make_rpcs()
            self._make_dvp()
            if self.serve_telemetry:
                await self._serve()
            async with asyncio.TaskGroup() as group:
                self._group = group
                group.create_task(self._store_gauges(), name="gauges")
                group.create_task(self._balance_gauges(), name="balances")
                group.create_task(writer.hold(), name="writer")
                if self.policy.mode == "open":
                    group.create_task(self._keep_budget(), name="budget")
                for chain in self.config.chains:
                    group.create_task(self._watch(chain), name=f"watch-{chain.name}")
                    group.create_task(self._bring_up(chain), name=f"start-{chain.name}")
                self.serving.set()
        except BaseExceptionGroup as failed:
            # a task's own error (a wrong chain id, a store of an earlier chain...) is the
            # one line the operator sees, not a group of one
            ours = failed.subgroup(lambda e: isinstance(e, StbridgeError))
            if ours is not None and len(ours.exceptions) == 1:
                raise _leaf(ours) from None
            raise
        finally:
            self._group = None
            await self.close()

    async def _keep_budget(self) -> None:
        """Save the open policy's hour of gas per sender when it changed (and at the stop),
        so a restart keeps counting the same hour."""
        try:
            while True:
                await asyncio.sleep(2.0)
                await self._save_budget()
        finally:
            await asyncio.shield(self._save_budget())

    async def _save_budget(self) -> None:
        if self.policy.budget.dirty:
            self.policy.budget.dirty = False
            await self.store.set_state(BUDGET_STATE, self.policy.budget.snapshot())

    async def _watch(self, chain: ChainConfig) -> None:
        """Probe the chain's endpoints every second or so: health, failover, waiting gauge."""
        rpc = self.parts.rpcs[chain.name]
        interval = max(0.5, min(chain.block_time, chain.grace / 4, 2.0))
        probe_timeout = min(chain.rpc_timeout, max(1.0, chain.grace / 3))
        rpc.health.watched = True
        while True:
            waiting = chain.name not in self.ready_chains
            self.metrics.chain_waiting.labels(chain.name).set(1 if waiting else 0)
            await rpc.check_endpoints(probe_timeout)
            await asyncio.sleep(interval)

    async def _bring_up(self, chain: ChainConfig) -> None:
        """Wait until the chain answers, check it, then start its parts and lanes."""
        rpc = self.parts.rpcs[chain.name]
        said = False
        while True:
            if rpc.health.last_success is not None and rpc.health.answering():
                try:
                    await self._check_chain(chain)
                    break
                except (WrongChain, StoreError):
                    raise
                except ChainError as exc:
                    self.waiting[chain.name] = str(exc)
            else:
                self.waiting[chain.name] = rpc.health.last_error or "no answer yet"
            if not said and rpc.health.last_error is not None:
                said = True
                await self._lanes_wait_for(chain.name)
                self.log.warning(
                    f"chain {chain.name} does not answer at start; its indexer, confirmer "
                    f"and lanes wait for it, the other chains run",
                    error=self.waiting[chain.name],
                )
            await asyncio.sleep(0.2)
        self.waiting.pop(chain.name, None)
        async with self._start_lock:
            await self._start_chain(chain)
        if said:
            self.log.info(f"chain {chain.name} answers; its parts and lanes start")

    async def _lanes_wait_for(self, name: str) -> None:
        """Record why the lanes to and from a chain that has not started wait."""
        for origin in self.config.chains:
            for destination in self.config.chains:
                if origin.name == destination.name or name not in (origin.name, destination.name):
                    continue
                if (origin.name, destination.name) in self.parts.lanes:
                    continue
                reasons = LaneReasons(self.store, origin.chain_id, destination.chain_id)
                await reasons.set(f"chain {name} unreachable")
                self.metrics.lane_waiting.labels(origin.name, destination.name).set(1)

    async def _start_chain(self, chain: ChainConfig) -> None:
        group = self._group
        assert group is not None
        await self._build_chain(chain)
        name = chain.name
        indexer = self.parts.indexers[name]
        group.create_task(indexer.run(), name=f"indexer-{name}")
        if name in self.parts.signers:
            signer = self.parts.signers[name]
            group.create_task(self._sign_and_wake(name, signer), name=f"signer-{name}")
        if self.config.validators.mode == "remote":
            collector = RemoteCheckpointCollector(
                origin=self.parts.origins[name],
                urls=self.config.validators.urls,
                validators=[k.address for k in self.config.accounts.validators],
                store=self.store,
                interval=self.config.relayer.poll_interval,
            )
            group.create_task(collector.run(), name=f"collector-{name}")
        confirmer = self.parts.confirmers[name]
        group.create_task(confirmer.run(), name=f"confirmer-{name}")
        self.ready_chains.add(name)
        for other in self.config.chains:
            if other.name == name or other.name not in self.ready_chains:
                continue
            for origin, destination in ((chain, other), (other, chain)):
                lane = self._build_lane(origin, destination)
                group.create_task(lane.run(), name=f"lane-{origin.name}-{destination.name}")
        if len(self.ready_chains) < len(self.config.chains):
            return
        if self.parts.dvp is not None and self.parts.dvp.timelocks and not self._dvp_started:
            self._dvp_started = True
            group.create_task(self.parts.dvp.run(), name="dvp-watcher")
        self.started.set()
        freeze_startup_heap()  # what start built is never walked by a collection again
        self.log.info(
            "relayer running",
            chains=[c.name for c in self.config.chains],
            lanes=[f"{o}->{d}" for o, d in self.parts.lanes],
            metrics_port=self.telemetry.port if self.telemetry else None,
            console=self.console_url,
        )

    async def _serve(self) -> None:
        """/metrics and the probes, and the console on the same port or its own."""
        settings = self.config.relayer
        install = None
        if settings.console and self.console_routes is not None:
            install = self.console_routes(self)
        beside = install is not None and settings.console_port is not None
        self.telemetry = TelemetryServer(
            self.metrics,
            self.not_ready,
            settings.metrics_host,
            settings.metrics_port,
            install=install if not beside else None,
        )
        port = await self.telemetry.start()
        if install is None:
            return
        host = settings.metrics_host
        if beside:
            assert settings.console_port is not None and install is not None
            self.console_site = RouteSite(
                install,
                settings.console_host,
                settings.console_port,
                what="the console",
                setting="relayer.console_port",
            )
            host, port = settings.console_host, await self.console_site.start()
        self.console_url = f"http://{_url_host(host)}:{port}/console/"

    async def _sign_and_wake(self, origin: str, signer: CheckpointSigner) -> None:
        """Sign new checkpoints as the origin's indexer moves, and wake its lanes."""
        indexer = self.parts.indexers[origin]
        while indexer.state.halted is None:
            try:
                signed = await signer.sign_once()
            except ChainError as exc:
                signer.log.warning("could not sign a checkpoint; retrying", error=str(exc))
                signed = None
            if signed is not None:
                for (o, _d), lane in self.parts.lanes.items():
                    if o == origin:
                        lane.wake.set()
            await indexer.wait_for_progress(indexer.poll_interval * 4)

    async def _store_gauges(self) -> None:
        """Backlog by lane and status and the oldest pending age, from the store only."""
        names = {c.chain_id: c.name for c in self.config.chains}
        seen: set[tuple[str, str, str]] = set()
        while True:
            now = time.time()
            for o in self.config.chains:
                for d in self.config.chains:
                    if o.name == d.name:
                        continue
                    count, oldest = await self.store.backlog(o.chain_id, d.chain_id)
                    self.metrics.backlog.labels(o.name, d.name).set(count)
                    age = now - oldest if oldest else 0
                    self.metrics.oldest_pending_age.labels(o.name, d.name).set(age)
            counts = await self.store.status_counts()
            current: set[tuple[str, str, str]] = set()
            for (origin, destination, status), n in counts.items():
                if origin not in names or destination not in names:
                    continue
                labels = (names[origin], names[destination], str(status))
                current.add(labels)
                self.metrics.backlog_by_status.labels(*labels).set(n)
            for labels in seen - current:
                self.metrics.backlog_by_status.labels(*labels).set(0)
            seen |= current
            await asyncio.sleep(self.config.relayer.gauge_interval)

    async def _balance_gauges(self) -> None:
        """The relayer key's balance on each chain that answers, each on its own."""
        while True:
            senders = list(self.parts.senders.items())
            await asyncio.gather(*(self._balance(name, sender) for name, sender in senders))
            await asyncio.sleep(self.config.relayer.gauge_interval)

    async def _balance(self, name: str, sender: TxSender) -> None:
        if not sender.rpc.health.answering():
            return
        try:
            async with asyncio.timeout(self.config.chain(name).rpc_timeout):
                wei = await sender.rpc.balance(sender.address)
        except (ChainError, TimeoutError):
            return
        self.metrics.balance.labels(name, sender.address).set(wei / 10**18)
        self._balances[name] = wei

    def not_ready(self) -> list[str]:
        """Why the relayer is not ready; empty when it is."""
        reasons: list[str] = []
        if not self.started.is_set() and not self.waiting:
            reasons.append("starting")
        for name, why in sorted(self.waiting.items()):
            reasons.append(
                f"chain {name}: waiting for it to answer ({why}); lanes to and from {name} wait"
            )
        for name, rpc in self.parts.rpcs.items():
            if name in self.waiting:
                continue
            problem = rpc.health.readiness_problem()
            if problem:
                reasons.append(f"{problem}; lanes to and from {name} wait")
        for name, indexer in self.parts.indexers.items():
            state = indexer.state
            if state.halted:
                reasons.append(f"chain {name}: {state.halted}")
            elif state.head < 0:
                reasons.append(f"chain {name}: no head seen yet")
            elif state.cursor < state.head - indexer.confirmations - 5:
                behind = state.head - indexer.confirmations - state.cursor
                reasons.append(f"chain {name}: indexer {behind} blocks behind")
        minimum = self.config.relayer.min_relayer_balance_wei
        for name, wei in self._balances.items():
            if wei < minimum:
                address = self.config.accounts.relayer.address
                reasons.append(
                    f"chain {name}: relayer key {address} holds {wei / 1e18:.4f} ETH, "
                    f"under the {minimum / 1e18:g} ETH minimum: fund it"
                )
        return reasons

    async def close(self) -> None:
        """Stop serving and close connections; safe to call twice."""
        if self.console_site is not None:
            site, self.console_site = self.console_site, None
            await site.stop()
        if self.telemetry is not None:
            await self.telemetry.stop()
            self.telemetry = None
        if self.writer is not None:
            writer, self.writer = self.writer, None
            with contextlib.suppress(Exception):
                await writer.release()
        for rpc in self.parts.rpcs.values():
            with contextlib.suppress(Exception):
                await rpc.close()


def _leaf(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The one exception of a group of one (groups nest when task groups do)."""
    first = group.exceptions[0]
    return _leaf(first) if isinstance(first, BaseExceptionGroup) else first
