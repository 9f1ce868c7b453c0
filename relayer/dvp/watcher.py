"""The DvP watcher: carries revealed secrets across chains and refunds expired locks.

Every chain's indexer hands its ``HashedTimelock`` logs to a :class:`TimelockSink`,
which keeps each lock in the store (``htlc_locks``: opened by ``Locked``, closed by
``Claimed`` with its preimage or by ``Refunded``). The :class:`DvpWatcher` then looks
at the open locks, soonest expiry first:

- a lock whose hashlock some claim has revealed (on any chain) is claimed with that
  preimage while it has not expired: that is how the seller of a cross-chain trade is
  paid while offline. The relayer's key pays the gas;
- an expired lock is refunded to its sender, when ``relayer.refund_expired_locks``;
- an open lock with no revealed secret and less than the margin left is reported once
  in the log and counted in ``stbridge_dvp_expiring_locks``.

Nothing is held only in memory: a restart reads the open locks and the revealed
preimages from the store, and a transaction already stored for a lock (its
``purpose`` names the lock) is left to the confirmer rather than sent again. Before
sending, the watcher asks the chain whether the lock is still open: a lock someone
else claimed first is simply recorded when its event arrives.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from eth_utils.address import to_checksum_address

from relayer.chain import contracts
from relayer.chain.logs import LogSink
from relayer.chain.rpc import CallReverted, ChainRpc, revert_data
from relayer.chain.sender import TxSender
from relayer.core.backoff import next_attempt
from relayer.errors import ChainError
from relayer.store import HtlcLock, LockSettlement, LockState, Store
from relayer.telemetry.logging import get_logger
from relayer.telemetry.metrics import Metrics

OPEN_LOCKS_PER_ROUND = 10_000
RESERVE_SECONDS = 10.0  # a claim or refund is this relayer's alone while it sends (store-wide)
_LOCKED = 1  # HashedTimelock.State.Locked


def action_purpose(action: str, lock_id: bytes) -> str:
    """How a stored transaction names the lock it settles: ``dvp claim 0x…``."""
    return f"dvp {action} 0x{lock_id.hex()}"


class TimelockSink:
    """Turns one chain's HashedTimelock logs into lock rows, and wakes the watcher."""

    def __init__(self, watcher: DvpWatcher, chain_name: str, chain_id: int, timelock: str) -> None:
        self.watcher = watcher
        self.chain_name = chain_name
        self.chain_id = chain_id
        self.timelock = to_checksum_address(timelock)
        self._timelock = self.timelock.lower()
        self.abi = contracts.load("HashedTimelock")

    async def __call__(self, logs: Sequence[Mapping[str, Any]], times: Mapping[int, int]) -> None:
        locks: list[HtlcLock] = []
        settlements: list[LockSettlement] = []
        for log in logs:
            if str(log["address"]).lower() != self._timelock:  # cheap: most logs are the mailbox's
                continue
            for event, values, raw in contracts.decode_logs(self.abi, [log]):
                block = int(raw["blockNumber"], 16)
                at = float(times.get(block, 0))
                tx = str(raw["transactionHash"])
                if event.name == "Locked":
                    locks.append(
                        HtlcLock(
                            chain_id=self.chain_id,
                            lock_id=bytes(values["lockId"]),
                            hashlock=bytes(values["hashlock"]),
                            token=to_checksum_address(values["token"]),
                            sender=to_checksum_address(values["sender"]),
                            receiver=to_checksum_address(values["receiver"]),
                            amount=int(values["amount"]),
                            expiry=int(values["expiry"]),
                            locked_tx=tx,
                            locked_block=block,
                            locked_at=at,
                        )
                    )
                elif event.name in ("Claimed", "Refunded"):
                    claimed = event.name == "Claimed"
                    settlements.append(
                        LockSettlement(
                            chain_id=self.chain_id,
                            lock_id=bytes(values["lockId"]),
                            state=LockState.CLAIMED if claimed else LockState.REFUNDED,
                            tx_hash=tx,
                            block=block,
                            at=at,
                            preimage=bytes(values["preimage"]) if claimed else None,
                        )
                    )
        if not locks and not settlements:
            return
        store = self.watcher.store
        await store.add_locks(locks)
        settled = await store.settle_locks(settlements)
        await self.watcher.settled(self.chain_name, settled)
        self.watcher.wake.set()


class DvpWatcher:
    """Follows the locks of every chain by hashlock and settles what can be settled."""

    def __init__(
        self,
        *,
        store: Store,
        rpcs: Mapping[str, ChainRpc],
        senders: Mapping[str, TxSender],
        refund_expired: bool,
        warn_seconds: int,
        poll_interval: float,
        metrics: Metrics | None = None,
    ) -> None:
        self.store = store
        self.rpcs = rpcs  # by chain name; the daemon fills these as it builds
        self.senders = senders
        self.refund_expired = refund_expired
        self.warn_seconds = warn_seconds
        self.poll_interval = poll_interval
        self.metrics = metrics
        self.timelocks: dict[int, tuple[str, str]] = {}  # chain id -> (chain name, address)
        self.wake = asyncio.Event()
        self.abi = contracts.load("HashedTimelock")
        self._warned: set[tuple[int, bytes]] = set()
        self._too_late: set[tuple[int, bytes]] = set()
        self.log = get_logger("dvp")

    def watch(self, chain_name: str, chain_id: int, timelock: str) -> LogSink:
        """Follow a chain's timelock; returns the sink its indexer feeds."""
        self.timelocks[chain_id] = (chain_name, to_checksum_address(timelock))
        return TimelockSink(self, chain_name, chain_id, timelock)

    async def run(self) -> None:
        """Watch until cancelled."""
        while True:
            self.wake.clear()
            try:
                await self.step()
            except ChainError as exc:
                self.log.warning("dvp round failed; retrying", error=str(exc))
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.poll_interval):
                    await self.wake.wait()

    async def step(self) -> int:
        """One round over the open locks; returns how many transactions it sent."""
        open_locks = await self.store.htlc_locks(state=LockState.OPEN, limit=OPEN_LOCKS_PER_ROUND)
        open_locks = [k for k in open_locks if k.chain_id in self.timelocks]
        secrets = await self.store.revealed([k.hashlock for k in open_locks])
        chain_ids = {k.chain_id for k in open_locks}
        now = {cid: await self._chain_time(cid) for cid in chain_ids}
        in_flight = {cid: await self._in_flight(cid) for cid in chain_ids}
        expiring: Counter[str] = Counter()
        by_chain: Counter[str] = Counter()
        sent = 0
        for lock in open_locks:
            name = self.timelocks[lock.chain_id][0]
            by_chain[name] += 1
            secret = secrets.get(lock.hashlock)
            chain_now = now[lock.chain_id]
            left = lock.expiry - chain_now
            if secret is not None and left > 0:
                sent += await self._act(lock, "claim", secret, in_flight[lock.chain_id])
            elif left <= 0:
                if secret is not None:
                    self._revealed_too_late(lock, name)
                if self.refund_expired:
                    sent += await self._act(lock, "refund", None, in_flight[lock.chain_id])
            elif left <= self.warn_seconds:
                expiring[name] += 1
                self._warn_expiring(lock, name, left)
        if self.metrics:
            for name, _address in self.timelocks.values():
                self.metrics.dvp_expiring.labels(name).set(expiring[name])
                self.metrics.dvp_open.labels(name).set(by_chain[name])
        return sent

    async def _chain_time(self, chain_id: int) -> int:
        """The latest block's timestamp: what the timelock compares expiries with."""
        name = self.timelocks[chain_id][0]
        return (await self.rpcs[name].block("latest")).timestamp

    async def _in_flight(self, chain_id: int) -> set[str]:
        """Purposes of the transactions any relayer of this store has pending on the chain."""
        return {tx.purpose for tx in await self.store.pending_txs(chain_id)}

    async def _act(
        self, lock: HtlcLock, action: str, secret: bytes | None, in_flight: set[str]
    ) -> int:
        """Claim or refund one lock, unless that is in flight, settled, or backing off."""
        purpose = action_purpose(action, lock.lock_id)
        if purpose in in_flight or lock.next_attempt_at > time.time():
            return 0
        now = time.time()
        if not await self.store.reserve_lock_action(
            lock.chain_id, lock.lock_id, now=now, until=now + RESERVE_SECONDS
        ):
            return 0  # another relayer sharing the store is acting on it
        name, timelock = self.timelocks[lock.chain_id]
        sender = self.senders[name]
        if not await self._still_open(name, timelock, lock.lock_id):
            return 0  # someone settled it; its event is on the way
        if action == "claim":
            assert secret is not None
            data = self.abi.fn("claim").encode(lock.lock_id, secret)
        else:
            data = self.abi.fn("refund").encode(lock.lock_id)
        try:
            gas = await sender.estimate(timelock, data)
            tx = await sender.send(to=timelock, data=data, gas=gas, purpose=purpose)
        except CallReverted as exc:
            reason = contracts.decode_revert(revert_data(exc))
            await self._failed(lock, action, reason)
            return 0
        except ChainError as exc:
            await self._failed(lock, action, str(exc))
            return 0
        await self.store.note_lock_action(
            lock.chain_id, lock.lock_id, action, tx_hash=tx.hash, error=None,
            next_attempt_at=next_attempt(0),
        )  # fmt: skip
        in_flight.add(purpose)
        self.log.info(
            f"dvp {action} sent",
            chain=name,
            lock=f"0x{lock.lock_id.hex()}",
            to=lock.receiver if action == "claim" else lock.sender,
            amount=lock.amount,
            tx=tx.hash,
        )
        return 1

    async def _still_open(self, chain: str, timelock: str, lock_id: bytes) -> bool:
        raw = await self.rpcs[chain].call(timelock, self.abi.fn("getLock").encode(lock_id))
        (lock,) = self.abi.fn("getLock").decode(raw)
        return int(lock[2]) == _LOCKED

    async def _failed(self, lock: HtlcLock, action: str, reason: str) -> None:
        await self.store.note_lock_action(
            lock.chain_id, lock.lock_id, action, tx_hash=None, error=reason,
            next_attempt_at=next_attempt(lock.attempts),
        )  # fmt: skip
        self.log.warning(
            f"dvp {action} failed; will retry",
            chain=self.timelocks[lock.chain_id][0],
            lock=f"0x{lock.lock_id.hex()}",
            error=reason[:200],
        )

    def _warn_expiring(self, lock: HtlcLock, chain: str, left: int) -> None:
        key = (lock.chain_id, lock.lock_id)
        if key in self._warned:
            return
        self._warned.add(key)
        self.log.warning(
            "dvp lock nears expiry unclaimed",
            chain=chain,
            lock=f"0x{lock.lock_id.hex()}",
            hashlock=f"0x{lock.hashlock.hex()}",
            receiver=lock.receiver,
            seconds_left=left,
        )

    def _revealed_too_late(self, lock: HtlcLock, chain: str) -> None:
        key = (lock.chain_id, lock.lock_id)
        if key in self._too_late:
            return
        self._too_late.add(key)
        self.log.error(
            "dvp secret revealed but the lock expired before it was claimed",
            chain=chain,
            lock=f"0x{lock.lock_id.hex()}",
            receiver=lock.receiver,
        )

    async def settled(self, chain: str, locks: Sequence[HtlcLock]) -> None:
        """Count what this relayer settled, and how long a payment took after the reveal."""
        for lock in locks:
            self._warned.discard((lock.chain_id, lock.lock_id))
            if not self.metrics or lock.action is None:
                continue
            if lock.state == LockState.REFUNDED and lock.action == "refund":
                self.metrics.dvp_refunded.labels(chain).inc()
            elif lock.state == LockState.CLAIMED and lock.action == "claim":
                self.metrics.dvp_settled.labels(chain).inc()
                revealed_at = await self._revealed_at(lock)
                if revealed_at is not None and lock.settled_at:
                    self.metrics.dvp_settlement.labels(chain).observe(
                        max(0.0, lock.settled_at - revealed_at)
                    )

    async def _revealed_at(self, lock: HtlcLock) -> float | None:
        """When the first claim under this hashlock (on any other lock) was mined."""
        times = [
            k.settled_at
            for k in await self.store.htlc_locks(hashlock=lock.hashlock)
            if k.state == LockState.CLAIMED
            and k.settled_at is not None
            and (k.chain_id, k.lock_id) != (lock.chain_id, lock.lock_id)
        ]
        return min(times) if times else None
