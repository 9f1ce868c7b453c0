"""The confirmer: follows the transactions one key sent, until each is final.

For every stored pending transaction it asks for the receipt. A mined one waits for
the chain's confirmations, then its logs say which messages were delivered and which
handlers failed (those are retried with growing backoff, the reason recorded). A
transaction that reverted as a whole fails all its messages with the decoded reason.
One that is not mined after ``stuck_after`` seconds is replaced with higher fees; one
whose nonce was taken by a transaction we do not know is given up and its messages
are queued again. After a restart every pending transaction is broadcast again as
stored, which a node that already has it simply ignores.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from relayer.chain import contracts
from relayer.chain.rpc import ChainRpc, revert_data
from relayer.chain.sender import FeeAboveCap, TxSender, decode_signed
from relayer.daemon.refusal import failure, retry_at, terminal
from relayer.errors import ChainError
from relayer.store import Store, TxRow, TxStatus
from relayer.store.models import NEVER
from relayer.telemetry.logging import get_logger
from relayer.telemetry.metrics import Metrics


class Confirmer:
    """Watches one sender's transactions on one chain."""

    def __init__(
        self,
        *,
        sender: TxSender,
        store: Store,
        confirmations: int,
        poll_interval: float,
        stuck_after: float,
        chain_names: Mapping[int, str],
        mailbox: str,
        metrics: Metrics | None = None,
        adopt_after: float | None = None,
        max_attempts: int = 12,
        block_time: float = 1.0,
    ) -> None:
        self.sender = sender
        self.block_time = max(block_time, 1.0)  # how long a nonce may wait before a nudge
        self.rpc: ChainRpc = sender.rpc
        self.store = store
        self.confirmations = confirmations
        self.poll_interval = poll_interval
        self.stuck_after = stuck_after
        self.names = chain_names
        self.mailbox = mailbox.lower()
        self.metrics = metrics
        self.mailbox_abi = contracts.load("Mailbox")
        self._process_topic = "0x" + self.mailbox_abi.event("Process").topic.hex()
        self._rebroadcast_done = False
        self._mined_in: dict[str, int] = {}  # tx hash -> block its receipt was seen in
        # another relayer sharing the store whose newest pending transaction is older than
        # this (a lease period) is taken for dead: its transactions are followed here
        self.adopt_after = adopt_after
        self._adopted_broadcast: dict[str, float] = {}  # tx hash -> when sent again
        self.on_out_of_gas: Callable[[TxRow], None] | None = None
        self._over_cap: set[str] = set()  # stuck transactions the fee cap keeps as they are
        self._nudged: dict[int, float] = {}  # nonce -> when its stored bytes were sent again
        # a batch of several messages reverted as a whole: its lane simulates and bisects
        self.on_reverted: Callable[[TxRow], None] | None = None
        # a transaction mined and final, with the gas it used: its lane's gas model learns
        self.on_mined: Callable[[TxRow, int], None] | None = None
        self.max_attempts = max_attempts
        self.log = get_logger("confirmer", chain=self.rpc.name)

    async def run(self) -> None:
        while True:
            # while the chain's watcher finds it unreachable, wait for it to answer
            await self.rpc.health.wait_answering()
            try:
                await self.step()
            except ChainError as exc:
                self.log.warning("confirmation round failed; retrying", error=str(exc))
            await asyncio.sleep(self.poll_interval)

    async def step(self) -> int:
        """One round; returns how many transactions became final."""
        if self.adopt_after is None:
            pending = await self.store.pending_txs(self.sender.chain_id, self.sender.address)
            orphans: dict[str, list[TxRow]] = {}
        else:
            pending, orphans = self._split(await self.store.pending_txs(self.sender.chain_id))
        followed = {t.hash for t in pending} | {t.hash for ts in orphans.values() for t in ts}
        self._mined_in = {h: b for h, b in self._mined_in.items() if h in followed}
        self._adopted_broadcast = {
            h: t for h, t in self._adopted_broadcast.items() if h in followed
        }
        final = 0
        for address, theirs in orphans.items():
            final += await self._follow(theirs, address, adopted=True)
        if not pending:
            self._rebroadcast_done = True
            return final
        if not self._rebroadcast_done:
            await self._rebroadcast(pending)
            self._rebroadcast_done = True
        return final + await self._follow(pending, self.sender.address, adopted=False)

    def _split(self, every: Sequence[TxRow]) -> tuple[list[TxRow], dict[str, list[TxRow]]]:
        """This key's transactions, and those of relayers gone silent, by their address.

        A relayer sharing the store that died after storing a transaction, before or after
        broadcasting it, leaves its messages submitted under that transaction; only its
        key can replace it, but its signed bytes can be broadcast by anyone, and its
        outcome recorded by anyone. A relayer is taken for gone when its newest pending
        transaction is older than ``adopt_after`` (its own confirmer would have settled or
        replaced it by then).
        """
        mine: list[TxRow] = []
        others: dict[str, list[TxRow]] = defaultdict(list)
        own = self.sender.address.lower()
        for tx in every:
            if tx.sender.lower() == own:
                mine.append(tx)
            else:
                others[tx.sender].append(tx)
        assert self.adopt_after is not None
        cutoff = time.time() - self.adopt_after
        silent = {a: txs for a, txs in others.items() if max(t.sent_at for t in txs) < cutoff}
        return mine, silent

    async def _follow(self, pending: Sequence[TxRow], address: str, *, adopted: bool) -> int:
        """Settle what of ``pending`` (one sender's) is final; ``adopted``: another relayer's,
        broadcast again now and then but never replaced (only its key could)."""
        # The mined nonce and the head first, then the receipts: a block mined while the
        # node works through the batch then shows up in the receipts, never only in the
        # nonce (which would make a mined transaction look replaced by a stranger's).
        # A receipt seen mined is not asked again until it may be final: a batch's
        # receipt holds hundreds of logs, and decoding it every poll was the relayer's
        # largest cost under load. At that point it is asked once more (a reorg may have
        # moved or dropped it).
        unseen = [t for t in pending if t.hash not in self._mined_in]
        calls: list[tuple[str, Sequence[Any]]] = [
            ("eth_getTransactionCount", [address, "latest"]),
            ("eth_blockNumber", []),
        ]
        calls += [("eth_getTransactionReceipt", [t.hash]) for t in unseen]
        answers = await self.rpc.batch(calls)
        mined_nonce = int(answers[0], 16)
        head = int(answers[1], 16)
        receipts: dict[str, Any] = dict(zip((t.hash for t in unseen), answers[2:], strict=True))
        ripe = [
            t
            for t in pending
            if t.hash not in receipts and self._mined_in[t.hash] <= head - self.confirmations
        ]
        if ripe:
            again = await self.rpc.batch([("eth_getTransactionReceipt", [t.hash]) for t in ripe])
            receipts.update(zip((t.hash for t in ripe), again, strict=True))
        for tx_hash, receipt in receipts.items():
            if receipt:
                self._mined_in[tx_hash] = int(receipt["blockNumber"], 16)
            else:
                self._mined_in.pop(tx_hash, None)
        by_nonce: dict[int, list[TxRow]] = defaultdict(list)
        for tx in pending:
            by_nonce[tx.nonce].append(tx)
        final = 0
        for nonce in sorted(by_nonce):
            group = by_nonce[nonce]
            if any(t.hash not in receipts for t in group):
                continue  # mined, not final yet: asked again once it may be
            mined = [(t, receipts[t.hash]) for t in group if receipts[t.hash]]
            if mined:
                tx, receipt = mined[0]
                if int(receipt["blockNumber"], 16) > head - self.confirmations:
                    continue
                await self._final(tx, receipt)
                for other in group:
                    if other.hash != tx.hash:
                        await self.store.set_tx_status(other.hash, TxStatus.REPLACED)
                final += 1
            elif nonce < mined_nonce:
                if not await self._any_receipt(group):  # asked again, to be sure
                    await self._taken(group)
            elif adopted:
                await self._broadcast_adopted(group)
            elif self.sender.holding:
                continue  # stored, maybe not broadcast yet: neither sent again nor replaced
            else:
                if nonce == mined_nonce and await self._nudge(group):
                    await self._rebroadcast(pending)  # the node may have lost the later ones
                await self._maybe_replace(group)
        return final

    async def _broadcast_adopted(self, group: Sequence[TxRow]) -> None:
        """Send a silent relayer's stored transaction again, once per ``adopt_after``."""
        assert self.adopt_after is not None
        latest = max(group, key=lambda t: t.sent_at)
        now = time.time()
        if now - self._adopted_broadcast.get(latest.hash, 0.0) < self.adopt_after:
            return
        self._adopted_broadcast[latest.hash] = now
        try:
            await self.rpc.send_raw(latest.raw)
        except ChainError as exc:  # already known, underpriced, its key out of money...
            self.log.info("adopted transaction not taken", tx=latest.hash, error=str(exc)[:120])
            return
        self.log.warning(
            "broadcast a silent relayer's stored transaction",
            tx=latest.hash, sender=latest.sender, nonce=latest.nonce,
        )  # fmt: skip

    def _sent(self, tx: TxRow) -> float:
        """When ``tx`` reached the node, at the latest: a held transaction is stored when
        signed and broadcast when its hold ends (``TxSender.send_held``)."""
        return max(tx.sent_at, self.sender.released_at)

    async def _nudge(self, group: Sequence[TxRow]) -> bool:
        """The next nonce to be mined, sent two block times ago and still not mined: its
        stored bytes are sent again (once per block time). A node may lose a transaction
        from its pool (anvil did, while the relayer drained a backlog: the key's later
        transactions then waited behind the gap, blocks went empty until the stuck
        transaction was replaced 6 s later); a node that has it answers "already known".
        True when the node took it again: it had lost it."""
        latest = max(group, key=lambda t: t.sent_at)
        block_time = self.block_time
        now = time.time()
        if now - self._sent(latest) < 2 * block_time:
            return False
        if now - self._nudged.get(latest.nonce, 0.0) < block_time:
            return False
        self._nudged = {latest.nonce: now}
        try:
            await self.rpc.send_raw(latest.raw)
        except ChainError as exc:
            text = str(exc).lower()
            if "already known" not in text and "already imported" not in text:
                self.log.info("stored transaction not taken again", tx=latest.hash,
                              error=str(exc)[:120])  # fmt: skip
            return False
        self.log.warning(
            "node had lost a pending transaction; sent it again",
            tx=latest.hash, nonce=latest.nonce,
        )  # fmt: skip
        return True

    async def _rebroadcast(self, pending: Sequence[TxRow]) -> None:
        newest: dict[int, TxRow] = {}
        for tx in pending:
            if tx.nonce not in newest or tx.sent_at > newest[tx.nonce].sent_at:
                newest[tx.nonce] = tx
        for tx in sorted(newest.values(), key=lambda t: t.nonce):
            try:
                await self.sender.broadcast(tx)
            except ChainError as exc:
                self.log.info("rebroadcast refused", tx=tx.hash, error=str(exc)[:120])

    async def _any_receipt(self, group: Sequence[TxRow]) -> bool:
        answers = await self.rpc.batch([("eth_getTransactionReceipt", [t.hash]) for t in group])
        return any(answers)

    async def _maybe_replace(self, group: Sequence[TxRow]) -> None:
        latest = max(group, key=lambda t: t.sent_at)
        if time.time() - self._sent(latest) < self.stuck_after:
            return
        try:
            replacement = await self.sender.replace(latest)
        except FeeAboveCap as exc:  # said once per transaction; it stays in the pool
            if latest.hash not in self._over_cap:
                self._over_cap.add(latest.hash)
                self.log.warning("fee bump held back by max_fee_per_gas", error=str(exc)[:200])
            return
        except ChainError as exc:
            self.log.warning("fee bump refused", tx=latest.hash, error=str(exc)[:160])
            return
        if self.metrics:
            self.metrics.tx_replaced.labels(self.rpc.name).inc()
        self.log.info(
            "stuck transaction replaced",
            old=latest.hash,
            new=replacement.hash,
            nonce=latest.nonce,
            max_fee=replacement.max_fee,
        )

    async def _taken(self, group: Sequence[TxRow]) -> None:
        """Our nonce was used by a transaction we have no record of: queue the messages again."""
        for tx in group:
            await self.store.set_tx_status(tx.hash, TxStatus.DROPPED)
        ids = {i for tx in group for i in tx.message_ids}
        if ids:
            await self.store.requeue(sorted(ids))
        self.log.warning("nonce taken by another transaction; messages requeued", count=len(ids))

    async def _final(self, tx: TxRow, receipt: Mapping[str, Any]) -> None:
        block = int(receipt["blockNumber"], 16)
        header = await self.rpc.block(block)
        when = float(header.timestamp)
        ids = set(tx.message_ids)
        self._over_cap.discard(tx.hash)
        if self.metrics:
            self.metrics.tx_confirmed.labels(self.rpc.name).inc()
            self._count_gas(tx, receipt)
        if int(receipt.get("status", "0x0"), 16) == 1:
            if self.on_mined is not None:
                self.on_mined(tx, int(receipt.get("gasUsed", "0x0"), 16))
            delivered, failed = self._outcomes(receipt)
            skipped = ids - set(delivered) - set(failed)
            await self.store.mark_delivered(
                [(i, tx.hash, block, when) for i in delivered]
                + [(i, "", 0, when) for i in sorted(skipped)]
            )
            for message_id, reason in failed.items():
                row = await self.store.message(message_id)
                await self._settle_failure([message_id], reason, row.attempts if row else 0)
            await self.store.set_tx_status(tx.hash, TxStatus.MINED, block)
            await self._measure(delivered, failed, when)
            return
        reason = await self._revert_reason(tx, receipt, block)
        if self.metrics:
            self.metrics.tx_reverted.labels(self.rpc.name).inc()
        rows = [await self.store.message(i) for i in ids]
        attempts = max((r.attempts for r in rows if r), default=0)
        if len(ids) > 1 and self.on_reverted is not None:
            # one of them may sink the others: due now, and the lane simulates and
            # bisects the next round instead of making them all wait out a backoff
            self.on_reverted(tx)
            await self.store.mark_failed(
                sorted(ids),
                f"transaction reverted: {reason}",
                retry_at(attempts, self.max_attempts, backoff=False),
            )
        else:
            await self._settle_failure(sorted(ids), f"transaction reverted: {reason}", attempts)
        await self.store.set_tx_status(tx.hash, TxStatus.MINED, block)
        self.log.warning("delivery transaction reverted", tx=tx.hash, reason=reason)

    def _count_gas(self, tx: TxRow, receipt: Mapping[str, Any]) -> None:
        """Gas and fees this key's delivery spent, by lane (reverted transactions too)."""
        assert self.metrics is not None
        if tx.sender.lower() != self.sender.address.lower():
            return  # an adopted transaction: its own relayer paid
        kind, _, lane = tx.purpose.partition(" ")
        origin, arrow, destination = lane.partition("->")
        if kind != "processBatch" or not arrow:
            return
        used = int(receipt.get("gasUsed", "0x0"), 16)
        price = int(receipt.get("effectiveGasPrice", "0x0"), 16)
        self.metrics.gas_spent.labels(origin, destination).inc(used)
        self.metrics.fees_paid.labels(origin, destination).inc(used * price / 10**18)

    async def _settle_failure(self, ids: Sequence[bytes], reason: str, attempts: int) -> None:
        """A revert no retry changes refuses the messages; any other is retried with
        backoff until the attempts run out, then waits for an operator."""
        name = terminal(reason)
        if name is not None:
            await self.store.mark_refused(ids, reason)
            if self.metrics:
                for message_id in ids:
                    row = await self.store.message(message_id)
                    origin = self.names.get(row.origin, str(row.origin)) if row else "?"
                    self.metrics.refused.labels(f"{origin}->{self.rpc.name}", name).inc()
            self.log.warning("message refused", count=len(ids), reason=reason)
            return
        reason, when = failure(reason, attempts, self.max_attempts)
        if when >= NEVER:
            self.log.warning(
                "message gave up; waits for an operator", count=len(ids), reason=reason
            )
        await self.store.mark_failed(ids, reason, when)

    def _outcomes(self, receipt: Mapping[str, Any]) -> tuple[list[bytes], dict[bytes, str]]:
        """Delivered ids (Process: the id is its first indexed topic) and failed ones."""
        delivered: list[bytes] = []
        failed: dict[bytes, str] = {}
        process = self._process_topic
        failures = []
        for log in receipt.get("logs", []):
            if str(log["address"]).lower() != self.mailbox:
                continue
            topics = log["topics"]
            if topics and topics[0] == process:
                delivered.append(bytes.fromhex(topics[1][2:]))
            else:
                failures.append(log)
        for event, values, _raw in contracts.decode_logs(self.mailbox_abi, failures):
            if event.name == "ProcessFailed":
                reason = contracts.decode_revert(bytes(values.get("reason", b"")))
                failed[bytes(values["id"])] = f"handler reverted: {reason}"
        return delivered, failed

    async def _revert_reason(self, tx: TxRow, receipt: Mapping[str, Any], block: int) -> str:
        reason = await self._replay(tx, receipt, block)
        if reason.startswith(("out of gas", "InsufficientGas")) and self.on_out_of_gas:
            self.on_out_of_gas(tx)
        return reason

    async def _replay(self, tx: TxRow, receipt: Mapping[str, Any], block: int) -> str:
        """Why a mined transaction reverted: the call replayed on the state before its block."""
        if int(receipt.get("gasUsed", "0x0"), 16) >= tx.gas_limit * 63 // 64:
            return f"out of gas (limit {tx.gas_limit})"
        to, data, value = decode_signed(tx.raw)
        params = {
            "from": tx.sender,
            "to": to,
            "data": "0x" + data.hex(),
            "value": hex(value),
            "gas": hex(tx.gas_limit),
        }
        try:
            await self.rpc.request("eth_call", [params, hex(max(block - 1, 0))])
        except ChainError as exc:
            return contracts.decode_revert(revert_data(exc))
        return "reverted (the call succeeds when replayed; state changed in between)"

    async def _measure(
        self, delivered: Sequence[bytes], failed: Mapping[bytes, str], when: float
    ) -> None:
        if not self.metrics:
            return
        # one read for the whole batch: a read per message (100 per transaction) kept the
        # store's thread busy while the lanes waited on it to claim and submit (profile)
        rows = {r.id: r for r in await self.store.messages_by_id([*delivered, *failed])}
        for message_id in delivered:
            row = rows.get(message_id)
            if row is None:
                continue
            lane = (self.names.get(row.origin, str(row.origin)), self.rpc.name)
            self.metrics.delivered.labels(*lane).inc()
            if row.dispatched_at:
                self.metrics.latency.labels(*lane).observe(max(0.0, when - row.dispatched_at))
        for message_id in failed:
            row = rows.get(message_id)
            if row is not None:
                lane = (self.names.get(row.origin, str(row.origin)), self.rpc.name)
                self.metrics.failed.labels(*lane).inc()
