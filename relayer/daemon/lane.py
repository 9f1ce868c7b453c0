"""A lane (origin to destination): prove, batch and submit messages.

Each round takes the newest checkpoint with enough signatures, leases the lane's
due messages up to its index, drops the ones anybody already delivered, and sends
one ``processBatch`` per run of consecutive nonces, closing a batch at its size or
gas budget. A transfer to a wallet whose newer identity record is also due goes
after that record (``compliance_order``). Waiting a short moment for more messages
lets batches fill under load without slowing a lone transfer much.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from relayer.chain import contracts
from relayer.chain.rpc import CallReverted, ChainRpc, RpcError, revert_data
from relayer.chain.sender import Outgoing, TxSender
from relayer.core.checkpoint import pack_signatures
from relayer.daemon.compliance_order import records_first
from relayer.daemon.indexer import ChainIndexer
from relayer.daemon.origin import OriginTree
from relayer.daemon.policy import DeliveryPolicy
from relayer.daemon.refusal import batch_wide, failure, terminal
from relayer.daemon.waiting import LaneReasons
from relayer.errors import ChainError, DeliveryWaits, InsufficientFunds, LeaseLost
from relayer.store import MessageRow, Store, StoredCheckpoint
from relayer.telemetry.logging import get_logger
from relayer.telemetry.metrics import Metrics

LEASE_SECONDS = 60.0  # the default of relayer.lease_seconds
HANDLER_RESERVE = 600_000  # the mailbox wants 540k left before each handler; plus its own checks
HANDLER_GAS = 500_000  # what one handler may burn (Mailbox.HANDLER_GAS)
# A backlog's first round signs and stores this many blocks' worth before broadcasting
# any, right after a block: the pool then holds more than the next block takes, and the
# lane has a block interval to add the next block's worth (see _hold).
BURST_BLOCKS = 2
MIN_MESSAGE_GAS = 20_000  # no delivery costs less (GasModel's floor): a block's worth at most
MAX_CLAIM = 20_000  # messages one round claims at most, whatever the block holds
# A round of several batches goes out in chunks of transactions, each signed, stored in
# one store transaction and broadcast in one request (TxSender.send_many), while the lane
# encodes the next chunk: two round trips a chunk, not two a batch. The first chunk is
# small so the pool gets it soon; each next one doubles, up to SEND_CHUNK_MAX, because
# under load a chunk's store and broadcast wait their turn (the store's thread, the node)
# about the same whatever its size.
SEND_CHUNK = 8
SEND_CHUNK_MAX = 32


class GasModel:
    """Predicts a batch's gas limit from a measured per-message cost.

    ``eth_estimateGas`` executes the whole batch again (on the embedded node, several
    times over), so it runs only for the first batch of a lane, every ``refresh``
    batches, and after a batch ran out of gas; in between the limit is predicted with
    30% headroom plus the handler reserve.
    """

    ESTIMATE_BATCH = 16  # a batch that is estimated stays small: the node runs it repeatedly

    def __init__(self, refresh: int = 128) -> None:
        self.per_message: float | None = None
        self.used_per_message: float | None = None  # what mined batches used, per message
        self.refresh = refresh
        self._since_estimate = 0

    def needs_estimate(self) -> bool:
        return self.per_message is None or self._since_estimate >= self.refresh

    def learn(self, messages: int, estimated: int) -> None:
        self.per_message = max(20_000.0, (estimated - HANDLER_RESERVE) / max(messages, 1))
        self._since_estimate = 0

    def predict(self, messages: int) -> int:
        assert self.per_message is not None
        self._since_estimate += 1
        return HANDLER_RESERVE + int(self.per_message * messages * 1.3) + 50_000

    def ran_out(self) -> None:
        """A batch hit its limit: estimate the next one."""
        self.per_message = None

    def observe(self, messages: int, used: int) -> None:
        """A mined batch's receipt: the gas it used. It keeps the model current without
        another ``eth_estimateGas`` (a refresh stalled a draining lane 0.3-0.8 s on anvil,
        every 32 batches), and raises the prediction when messages cost more than it
        assumed; it never lowers it (the estimate's margin stays)."""
        if messages <= 0 or used <= 0:
            return
        self.used_per_message = used / messages
        if self.per_message is not None:
            self.per_message = max(self.per_message, (used - HANDLER_RESERVE) / messages)
            self._since_estimate = 0

    def block_worth(self, block_gas_limit: int) -> int:
        """How many messages a block of ``block_gas_limit`` holds, by what mined batches
        used (before any: the estimate, else the floor, which over-counts)."""
        per = self.used_per_message or self.per_message or MIN_MESSAGE_GAS
        return max(1, int(block_gas_limit // per))


@dataclass
class LaneConfig:
    origin_name: str
    destination_name: str
    destination_mailbox: str
    validators: list[str]
    threshold: int
    batch_max: int
    gas_budget: int
    batch_wait: float
    poll_interval: float
    lease_seconds: float = LEASE_SECONDS  # how long a claim keeps other relayers off
    block_time: float = 0.0  # the destination's; 0: not known (no holding for a block)


class LaneWorker:
    """Delivers one lane's messages."""

    def __init__(
        self,
        config: LaneConfig,
        *,
        origin: OriginTree,
        origin_indexer: ChainIndexer,
        destination_rpc: ChainRpc,
        destination_chain_id: int,
        sender: TxSender,
        store: Store,
        metrics: Metrics | None = None,
        policy: DeliveryPolicy | None = None,
        max_attempts: int = 12,
    ) -> None:
        self.config = config
        self.origin = origin
        self.origin_indexer = origin_indexer
        self.rpc = destination_rpc
        self.destination_id = destination_chain_id
        self.sender = sender
        self.store = store
        self.metrics = metrics
        mailbox = contracts.load("Mailbox")
        self._process_batch = mailbox.fn("processBatch")
        self._delivered_word = mailbox.fn("deliveredWord")
        self.gas = GasModel()
        self.halted: str | None = None
        self.policy = policy  # None: every message is carried (tools, unit tests)
        self.max_attempts = max_attempts
        # after a batch reverted, every batch is simulated (and bisected) until then
        self.simulate_until = 0.0
        self.wake = asyncio.Event()
        self._last_sent = 0.0  # monotonic time of the lane's last broadcast
        self._gathering: tuple[float, int] | None = None  # since when, origin count then
        self._gas_floor = 0  # the largest gas limit the lane sent while hot (see _floor)
        self.reasons = LaneReasons(store, origin.chain_id, destination_chain_id)
        self.log = get_logger("lane", lane=f"{config.origin_name}->{config.destination_name}")

    async def set_waiting(self, reason: str | None) -> None:
        """Record why the lane's messages wait (None: they do not), for `messages show`."""
        await self.reasons.set(reason)
        if self.metrics:
            self.metrics.lane_waiting.labels(*self._labels()).set(0 if reason is None else 1)

    async def run(self) -> None:
        destination = self.config.destination_name
        while True:
            if self.origin_indexer.state.halted is not None:
                self.halted = self.origin_indexer.state.halted
                if self.metrics:
                    self.metrics.lane_halted.labels(*self._labels()).set(1)
                await self.set_waiting(f"lane halted: {self.halted}")
                return
            if not self.rpc.health.answering():  # its watcher says when it is back
                await self.set_waiting(f"chain {destination} unreachable")
                await self.rpc.health.wait_answering()
            try:
                over_cap = await self.sender.above_cap()  # None when no cap is configured
                if over_cap is not None:  # claim nothing while the fee is above the cap
                    await self.set_waiting(over_cap)
                    await asyncio.sleep(max(self.rpc.chain.block_time, self.config.poll_interval))
                    continue
                sent = await self.step()
                await self.set_waiting(None)
            except InsufficientFunds as exc:
                self.log.error("relayer key underfunded; lane waits", error=str(exc))
                await self.set_waiting(
                    f"relayer key underfunded on {destination}: {self.sender.address} "
                    "cannot pay for gas; fund it"
                )
                sent = 0
                await asyncio.sleep(self.config.poll_interval * 10)
            except DeliveryWaits as exc:
                await self.set_waiting(str(exc))
                sent = 0
                await asyncio.sleep(self.config.poll_interval * 10)
            except ChainError as exc:
                self.log.warning("delivery round failed; retrying", error=str(exc))
                if not self.rpc.health.answering():
                    await self.set_waiting(f"chain {destination} unreachable")
                sent = 0
                await asyncio.sleep(self.config.poll_interval * 2)
            if sent == 0:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.config.poll_interval):
                        await self.wake.wait()
                self.wake.clear()

    def _labels(self) -> tuple[str, str]:
        return self.config.origin_name, self.config.destination_name

    async def step(self) -> int:
        """One round; returns how many messages were submitted."""
        checkpoint = await self.store.best_checkpoint(
            self.origin.chain_id,
            self.config.validators,
            self.config.threshold,
            max_index=self.origin.count - 1,  # another relayer's validators may be ahead
        )
        if checkpoint is None:
            return 0
        now = time.time()
        due = await self.store.claim(
            self.origin.chain_id,
            self.destination_id,
            max_nonce=checkpoint.index,
            now=now,
            limit=await self._claim_limit(),
            lease_seconds=self.config.lease_seconds,
        )
        if not due:
            return 0
        if await self._gather(due):
            await self.store.release([m.id for m in due])
            return 0
        if len(due) < self.config.batch_max and self.config.batch_wait > 0:
            newest = max(m.indexed_at for m in due)
            if now - newest < self.config.batch_wait:
                await asyncio.sleep(self.config.batch_wait - (now - newest))
                await self.store.release([m.id for m in due])
                return await self._after_wait()
        return await self._deliver(due, checkpoint)

    async def _after_wait(self) -> int:
        checkpoint = await self.store.best_checkpoint(
            self.origin.chain_id,
            self.config.validators,
            self.config.threshold,
            max_index=self.origin.count - 1,  # another relayer's validators may be ahead
        )
        if checkpoint is None:
            return 0
        due = await self.store.claim(
            self.origin.chain_id,
            self.destination_id,
            max_nonce=checkpoint.index,
            now=time.time(),
            limit=await self._claim_limit(),
            lease_seconds=self.config.lease_seconds,
        )
        return await self._deliver(due, checkpoint) if due else 0

    async def _claim_limit(self) -> int:
        """Messages one round claims: four batches, or ``BURST_BLOCKS`` blocks' worth of
        the destination's gas when that is more, so a backlog goes out a block's worth per
        round, not four batches with a claim and a replay check between."""
        base = self.config.batch_max * 4
        gas_limit = await self.sender.gas_limit()
        if not gas_limit:
            return base
        return max(base, min(MAX_CLAIM, BURST_BLOCKS * self.gas.block_worth(gas_limit)))

    def _cold(self) -> bool:
        """None of the lane's transactions went out lately (it starts on a backlog)."""
        block_time = self.config.block_time
        return block_time > 0 and time.monotonic() - self._last_sent > 2 * block_time + 1

    def _floor(self, gas: int) -> int:
        """A batch's gas limit, never below an earlier one of the lane's that may still be in
        the pool. A node fills a block until the next transaction's limit does not fit; a
        smaller one after it (a short batch) would fit, and anvil then drops it and every
        later nonce of the key as invalid (nonce too high), so the key's transactions wait
        for replacements. Only what is used is paid for; the limit costs nothing."""
        self._gas_floor = max(self._gas_floor, min(gas, self.config.gas_budget))
        return max(gas, self._gas_floor)

    async def _gather(self, due: Sequence[MessageRow]) -> bool:
        """Whether a cold lane waits for more of a backlog still being indexed before its
        first round: while more than a batch but less than a block's worth is due, the
        origin's indexer is still reading a backlog and its indexed count still grows, for at
        most two block times. Then the first round holds a block's worth (``_hold``) instead
        of trickling out as indexed."""
        if len(due) <= self.config.batch_max or not self._cold() or self._origin_caught_up():
            self._gathering = None
            return False
        gas_limit = await self.sender.gas_limit()
        if not gas_limit or len(due) >= self.gas.block_worth(gas_limit):
            self._gathering = None
            return False
        now, count = time.monotonic(), self.origin.count
        if self._gathering is None:
            self._gathering = (now, count)
            return True
        since, seen = self._gathering
        if count > seen and now - since < 2 * self.config.block_time:
            self._gathering = (since, count)
            return True
        self._gathering = None
        return False

    async def _hold(self, waiting: int) -> bool:
        """Whether this round's transactions are signed and stored first and broadcast
        together right after the next block: when the lane is cold and more than a
        batch is waiting, so the first block that takes them is full too (with a
        backlog, the round holds ``BURST_BLOCKS`` blocks' worth). Then each later round
        adds its block's worth while the chain seals the ones before. Not when the origin
        is caught up and less than a block's worth waits (``_origin_caught_up``)."""
        if waiting <= self.config.batch_max or not self._cold():
            return False
        gas_limit = await self.sender.gas_limit()
        if not gas_limit:
            return False
        # caught up, less than a block's worth: the next block takes it all anyway
        return not (self._origin_caught_up() and waiting < self.gas.block_worth(gas_limit))

    def _origin_caught_up(self) -> bool:
        """Whether the origin's indexer has read every confirmed block: what is due is then
        the newest confirmed block's messages (a steady stream, or the first transfers after
        a quiet spell), not a backlog still being indexed. Nothing more comes before the
        origin's next block, so gathering waits a block for nothing, and holding less than
        a block's worth for the next destination block only delivers it a block later
        (bench/relay_latency.py: the first dispatch block of a run took 3 blocks)."""
        indexer = self.origin_indexer
        state = indexer.state
        return state.head >= 0 and state.cursor >= state.head - indexer.confirmations

    async def _next_block(self) -> None:
        """Until the destination seals its next block (at most two block times)."""
        block_time = self.config.block_time
        start = await self.rpc.block_number()
        deadline = time.monotonic() + 2 * block_time + 1
        while time.monotonic() < deadline:
            await asyncio.sleep(min(0.05, block_time / 20))
            if await self.rpc.block_number() > start:
                return

    async def _deliver(self, due: list[MessageRow], checkpoint: StoredCheckpoint) -> int:
        due = await self._apply_policy(due)
        if not due:
            return 0
        due = await self._drop_delivered(due)
        if self._cold():  # nothing of the lane's is left in the pool to stay above
            self._gas_floor = 0
        held: list[Outgoing] | None = [] if await self._hold(len(due)) else None
        if held is None and len(due) > self.config.batch_max:
            sent = await self._deliver_chunked(due, checkpoint)
        else:
            sent = 0
            for batch in self._batches(due):
                sent += await self._submit(batch, checkpoint, held)
            if held:
                sent = await self._send_held(held)
        if sent:
            self._last_sent = time.monotonic()
        return sent

    def _batches(self, due: list[MessageRow]) -> Iterator[list[MessageRow]]:
        """The round's batches in the order they go: a newer record before a transfer to
        its wallet, runs of consecutive nonces, each cut at the batch size (which grows
        once the first batch taught the gas model, so it is read batch by batch)."""
        for group in records_first(due):
            for run in _runs(group):
                while run:
                    size = self._batch_size()
                    batch, run = run[:size], run[size:]
                    yield batch

    async def _deliver_chunked(self, due: list[MessageRow], checkpoint: StoredCheckpoint) -> int:
        """A round of several batches: chunks of them (``SEND_CHUNK``, doubling up to
        ``SEND_CHUNK_MAX``) are sent together (``TxSender.send_many``) while the next chunk
        is encoded; one chunk in flight at a time, so nonces follow the batches' order."""
        sent = 0
        chunk: list[Outgoing] = []
        size = SEND_CHUNK
        flight: asyncio.Task[int] | None = None
        try:
            for batch in self._batches(due):
                await self._submit(batch, checkpoint, chunk)
                if len(chunk) >= size:
                    if flight is not None:
                        sent += await flight
                    flight, chunk = asyncio.ensure_future(self._send_many(chunk)), []
                    size = min(2 * size, SEND_CHUNK_MAX)
            if flight is not None:
                sent += await flight
                flight = None
            if chunk:
                sent += await self._send_many(chunk)
        finally:
            if flight is not None:  # building failed: the chunk in flight still completes
                with contextlib.suppress(Exception):
                    sent += await flight
        return sent

    async def _send_many(self, chunk: list[Outgoing]) -> int:
        rows = await self.sender.send_many(chunk)
        for row in rows:
            if self.metrics:
                self.metrics.tx_submitted.labels(self.config.destination_name).inc()
            self.log.info(
                "batch submitted", messages=len(row.message_ids), tx=row.hash, gas=row.gas_limit
            )
        return sum(len(row.message_ids) for row in rows)

    async def _send_held(self, held: list[Outgoing]) -> int:
        rows = await self.sender.send_held(held, before_broadcast=self._next_block)
        for row in rows:
            if self.metrics:
                self.metrics.tx_submitted.labels(self.config.destination_name).inc()
            self.log.info(
                "batch submitted", messages=len(row.message_ids), tx=row.hash,
                gas=row.gas_limit, held=len(held),
            )  # fmt: skip
        return sum(len(row.message_ids) for row in rows)

    async def _apply_policy(self, due: list[MessageRow]) -> list[MessageRow]:
        """The claimed messages the policy carries now; the others are ignored (a policy
        narrowed since they were indexed), or wait for their sender's gas budget."""
        if self.policy is None:
            return due
        carried: list[MessageRow] = []
        ignored: list[tuple[bytes, str]] = []
        waiting: dict[float, list[bytes]] = {}
        for m in due:
            verdict = self.policy.verdict(m.origin, m.destination, m.sender, m.recipient)
            if not verdict.carried:
                ignored.append((m.id, verdict.reason))
                continue
            free_at = self.policy.over_budget(m.origin, m.sender, m.recipient, m.destination)
            if free_at is not None:
                waiting.setdefault(free_at, []).append(m.id)
                continue
            carried.append(m)
            # open mode: what this try may cost counts now, so the round's next messages
            # of the same sender see it (its handler may burn all of its allowance)
            cost = HANDLER_GAS + int(self.gas.per_message or 80_000)
            self.policy.charge(m.origin, m.destination, m.sender, m.recipient, cost)
        if ignored:
            await self.store.mark_ignored(ignored)
            if self.metrics:
                self.metrics.ignored.labels(self._lane()).inc(len(ignored))
            self.log.info("messages outside the delivery policy ignored", count=len(ignored))
        for free_at, ids in waiting.items():
            await self.store.postpone(
                ids, free_at, "sender spent its gas budget for the hour (delivery policy: open)"
            )
        return carried

    def _lane(self) -> str:
        return f"{self.config.origin_name}->{self.config.destination_name}"

    def _suspect(self, batch: Sequence[MessageRow]) -> bool:
        """Whether a batch is simulated before it is sent: after a revert on this lane, or
        when a message in it comes from outside the policy's routes (open mode)."""
        if time.time() < self.simulate_until:
            return True
        if self.policy is None:
            return False
        return any(
            not self.policy.on_route(m.origin, m.destination, m.sender, m.recipient) for m in batch
        )

    def batch_reverted(self) -> None:
        """A batch of several messages reverted: simulate and bisect for a while."""
        self.simulate_until = time.time() + 60.0
        self.gas.ran_out()

    def _batch_size(self) -> int:
        if self.gas.needs_estimate():
            return min(self.config.batch_max, GasModel.ESTIMATE_BATCH)
        per_message = self.gas.per_message or 80_000
        by_gas = int((self.config.gas_budget - HANDLER_RESERVE) // (per_message * 1.3))
        return max(1, min(self.config.batch_max, by_gas))

    async def _drop_delivered(self, due: list[MessageRow]) -> list[MessageRow]:
        """Ask the destination which of these someone already delivered; record those.

        One ``deliveredWord`` call answers for 256 nonces, so a round of 400 messages
        costs two or three calls, not 400.
        """
        words = sorted({m.nonce >> 8 for m in due})
        origin = due[0].origin
        calls = [
            (
                "eth_call",
                [
                    {
                        "to": self.config.destination_mailbox,
                        "data": "0x" + self._delivered_word.encode(origin, w).hex(),
                    },
                    "latest",
                ],
            )
            for w in words
        ]
        answers = await self.rpc.batch(calls)
        bits = {w: int(str(a), 16) for w, a in zip(words, answers, strict=True)}
        done = [m for m in due if bits[m.nonce >> 8] >> (m.nonce & 255) & 1]
        if done:
            await self.store.mark_delivered([(m.id, "", 0, time.time()) for m in done])
            self.log.info("already delivered by someone else", count=len(done))
        delivered_ids = {m.id for m in done}
        return [m for m in due if m.id not in delivered_ids]

    def _encode(self, batch: Sequence[MessageRow], checkpoint: StoredCheckpoint) -> bytes:
        start, end = batch[0].nonce, batch[-1].nonce
        proof = self.origin.tree.range_proof(start, end, checkpoint.index)
        signers = sorted(checkpoint.signatures.items(), key=lambda kv: bytes.fromhex(kv[0][2:]))
        chosen = signers[: self.config.threshold]
        signatures = pack_signatures([(bytes.fromhex(addr[2:]), sig) for addr, sig in chosen])
        return self._process_batch.encode(
            (checkpoint.origin, checkpoint.root, checkpoint.index),
            signatures,
            [m.raw for m in batch],
            proof,
        )

    async def _submit(
        self,
        batch: Sequence[MessageRow],
        checkpoint: StoredCheckpoint,
        held: list[Outgoing] | None = None,
    ) -> int:
        """Send one batch, or the parts of it that do not revert; returns how many
        messages went out. A batch that would revert (the estimate or a simulation says
        so) is split in halves, each tried the same way, so a message that sinks a batch
        ends alone and is refused or retried later, and the others go this round.
        With ``held``, what would be sent is appended there instead (``_send_held``)."""
        start, end = batch[0].nonce, batch[-1].nonce
        data = self._encode(batch, checkpoint)
        ids = [m.id for m in batch]
        revert: str | None = None
        if self.gas.needs_estimate() or (len(batch) == 1 and self._suspect(batch)):
            try:
                gas = await self.sender.estimate(self.config.destination_mailbox, data)
            except CallReverted as exc:
                revert = contracts.decode_revert(revert_data(exc))
                gas = 0
            else:
                if self.gas.needs_estimate():
                    self.gas.learn(len(batch), gas)
        else:
            gas = self.gas.predict(len(batch))
            if self._suspect(batch):
                revert = await self._simulate(data, gas)
        if revert is None and gas > self.config.gas_budget and len(batch) > 1:
            await self.store.release(ids)
            half = len(batch) // 2
            return await self._submit(batch[:half], checkpoint, held) + await self._submit(
                batch[half:], checkpoint, held
            )
        if revert is not None:
            if len(batch) == 1 or batch_wide(revert):
                await self._reject(batch, f"batch would revert: {revert}")
                return 0
            if self.metrics:
                self.metrics.bisections.labels(self._lane()).inc()
            self.log.info(
                "batch would revert; bisecting", messages=len(batch), nonces=f"{start}..{end}",
                reason=revert,
            )  # fmt: skip
            await self.store.release(ids)
            cut = _cut(revert, start, len(batch))
            return await self._submit(batch[:cut], checkpoint, held) + await self._submit(
                batch[cut:], checkpoint, held
            )
        gas = self._floor(gas)
        purpose = f"processBatch {self.config.origin_name}->{self.config.destination_name}"
        if held is not None:
            held.append(Outgoing(self.config.destination_mailbox, data, gas, purpose, ids))
            return len(batch)
        try:
            tx = await self.sender.send(
                to=self.config.destination_mailbox,
                data=data,
                gas=gas,
                purpose=purpose,
                message_ids=ids,
            )
        except LeaseLost as exc:  # nothing was stored or sent; the other relayer has them
            self.log.warning("lease taken over by another relayer", error=str(exc))
            return 0
        if self.metrics:
            self.metrics.tx_submitted.labels(self.config.destination_name).inc()
        self.log.info(
            "batch submitted", messages=len(batch), nonces=f"{start}..{end}", tx=tx.hash, gas=gas
        )
        return len(batch)

    async def _simulate(self, data: bytes, gas: int) -> str | None:
        """Run the batch with ``eth_call`` at the gas it would be sent with: the decoded
        revert reason, or None when it would go through."""
        if self.metrics:
            self.metrics.simulations.labels(self._lane()).inc()
        params = {
            "from": self.sender.address,
            "to": self.config.destination_mailbox,
            "data": "0x" + data.hex(),
            "gas": hex(gas),
        }
        try:
            await self.rpc.request("eth_call", [params, "latest"])
        except CallReverted as exc:
            return contracts.decode_revert(revert_data(exc))
        except RpcError as exc:  # a node may answer running out of gas without revert data
            if "gas" in str(exc).lower():
                return f"out of gas (limit {gas})"
            raise
        return None

    async def _reject(self, batch: Sequence[MessageRow], reason: str) -> None:
        """A message that would revert alone: refused when no retry can change the
        reason, else failed and retried with backoff up to ``max_attempts``."""
        ids = [m.id for m in batch]
        name = terminal(reason)
        if name is not None:
            await self.store.mark_refused(ids, reason)
            if self.metrics:
                self.metrics.refused.labels(self._lane(), name).inc(len(batch))
            self.log.warning("message refused", messages=len(batch), reason=reason)
            return
        reason, when = failure(reason, max(m.attempts for m in batch), self.max_attempts)
        await self.store.mark_failed(ids, reason, when)
        if self.metrics:
            self.metrics.failed.labels(*self._labels()).inc(len(batch))
        self.log.warning("delivery failed", messages=len(batch), reason=reason)


_OUT_OF_GAS_AT = re.compile(r"^InsufficientGas\(nonce=(\d+),")


def _cut(reason: str, start: int, size: int) -> int:
    """Where to split a batch that would revert: before the message the mailbox ran out
    of gas at (the ones before it fit), else in the middle."""
    match = _OUT_OF_GAS_AT.match(reason)
    if match is not None:
        cut = int(match.group(1)) - start
        if 0 < cut < size:
            return cut
        if cut == 0 and size > 1:
            return 1
    return size // 2


def _runs(messages: Sequence[MessageRow]) -> list[list[MessageRow]]:
    """Split messages (sorted by nonce) into runs of consecutive nonces."""
    runs: list[list[MessageRow]] = []
    for message in messages:
        if runs and message.nonce == runs[-1][-1].nonce + 1:
            runs[-1].append(message)
        else:
            runs.append([message])
    return runs
