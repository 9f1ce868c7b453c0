"""An origin chain's message tree as the relayer mirrors it, and the mailbox's logs.

:class:`OriginTree` holds every leaf of an origin's tree, in nonce order, rebuilt
from the store at start. :class:`MailboxSink` turns a chain's mailbox (and bridge)
logs into store rows: dispatched messages, deliveries by anyone, bounces.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from eth_utils.address import to_checksum_address

from relayer.chain import contracts
from relayer.core.hashing import keccak256
from relayer.core.merkle import MessageTree
from relayer.core.message import HEADER, HEADER_LENGTH
from relayer.daemon.policy import DeliveryPolicy, Verdict
from relayer.errors import ChainError
from relayer.store import ChainEvent, NewMessage, Store
from relayer.telemetry.logging import get_logger
from relayer.telemetry.metrics import Metrics


class TreeMismatch(ChainError):
    """A dispatched message does not fit the tree the relayer holds (a missed log, a reorg)."""


class OriginTree:
    """The relayer's copy of one origin's message tree."""

    def __init__(self, chain_name: str, chain_id: int, mailbox: str) -> None:
        self.chain_name = chain_name
        self.chain_id = chain_id
        self.mailbox = to_checksum_address(mailbox)
        self.mailbox_bytes32 = b"\x00" * 12 + bytes.fromhex(self.mailbox[2:])
        self.tree = MessageTree()

    @property
    def count(self) -> int:
        return self.tree.count

    async def load(self, store: Store, page: int = 20_000) -> None:
        """Rebuild from the store (after a restart), a page at a time: a million leaves
        never sit in memory as a million Python objects at once."""
        while True:
            leaves = await store.leaves(self.chain_id, start=self.tree.count, limit=page)
            for leaf in leaves:
                self.tree.append(leaf)
            if len(leaves) < page:
                return

    def add(self, nonce: int, message_id: bytes) -> bool:
        """Append a leaf at ``nonce``; False if it was already there (a replayed chunk)."""
        count = self.tree.count
        if nonce < count:
            if self.tree.leaf(nonce) != message_id:
                raise TreeMismatch(
                    f"chain {self.chain_name}: message {nonce} changed "
                    f"(held 0x{self.tree.leaf(nonce).hex()[:12]}…, now 0x{message_id.hex()[:12]}…)"
                )
            return False
        if nonce > count:
            raise TreeMismatch(
                f"chain {self.chain_name}: message {nonce} arrived before {count}: a log was missed"
            )
        self.tree.append(message_id)
        return True


class MailboxSink:
    """Turns one chain's mailbox and bridge logs into store rows."""

    def __init__(
        self,
        *,
        chain_name: str,
        chain_id: int,
        origin: OriginTree,
        store: Store,
        names_by_id: Mapping[int, str],
        bridge: str | None,
        metrics: Metrics | None = None,
        policy: DeliveryPolicy | None = None,
    ) -> None:
        self.chain_name = chain_name
        self.chain_id = chain_id
        self.origin = origin
        self.store = store
        self.names_by_id = names_by_id
        self.bridge = to_checksum_address(bridge) if bridge else None
        self.metrics = metrics
        self.policy = policy  # None: every message is pending (tools that only index)
        self.mailbox_abi = contracts.load("Mailbox")
        self.bridge_abi = contracts.load("TokenBridge") if bridge else None
        self._mailbox = origin.mailbox.lower()
        self._bridge = self.bridge.lower() if self.bridge else None
        self._dispatch_topic = "0x" + self.mailbox_abi.event("Dispatch").topic.hex()
        self._process_topic = "0x" + self.mailbox_abi.event("Process").topic.hex()
        self._kept_bridge_topics = (
            {"0x" + self.bridge_abi.event(n).topic.hex() for n in ("Bounced", "Returned")}
            if self.bridge_abi is not None
            else set()
        )
        self._held: list[NewMessage] = []  # read, not yet written: see flush
        self._same: dict[Any, Any] = {}
        self.log = get_logger("indexer", chain=chain_name)

    async def __call__(self, logs: Sequence[Mapping[str, Any]], times: Mapping[int, int]) -> None:
        new: list[NewMessage] = []
        deliveries: list[tuple[bytes, str, int, float]] = []
        events: list[ChainEvent] = []
        mailbox, bridge, dispatch = self._mailbox, self._bridge, self._dispatch_topic
        for log in logs:
            address = str(log["address"]).lower()
            if address == mailbox:
                topics = log["topics"]
                if topics[0] == dispatch:  # a backfill reads a million of these
                    new.append(self._dispatch(log, topics, times))
                else:
                    self._process_log(log, topics, times, deliveries)
            elif address == bridge:
                self._bridge_log(log, events)
        add = self.origin.add
        for message in new:
            add(message.nonce, message.id)
        self._held += new
        if deliveries:
            await self.store.mark_delivered(deliveries)
        if events:
            await self.store.add_events(events)

    def held(self) -> int:
        """Dispatched messages read but not yet written (the indexer says when: ``flush``)."""
        return len(self._held)

    async def flush(self) -> None:
        """Write the messages held, in one transaction; kept for the next try if it fails."""
        new, self._held = self._held, []
        self._same.clear()
        if not new:
            return
        try:
            ignored = self._ignored(new)
            await self.store.add_messages(new, ignored)
        except BaseException:
            self._held = new + self._held
            raise
        if self.metrics:  # counted by lane, once a write (a backfill's write is thousands)
            dispatched = Counter(m.destination for m in new)
            skipped = Counter(m.destination for m in new if m.id in ignored)
            for destination, count in dispatched.items():
                lane = (self.chain_name, self._name(destination))
                self.metrics.dispatched.labels(*lane).inc(count)
                if skipped[destination]:
                    self.metrics.ignored.labels("->".join(lane)).inc(skipped[destination])

    def _ignored(self, new: Sequence[NewMessage]) -> dict[bytes, str]:
        """The messages the delivery policy does not carry, with the reason."""
        if self.policy is None:
            return {}
        ignored: dict[bytes, str] = {}
        verdicts: dict[tuple[int, int, bytes, bytes], Verdict] = {}  # a chunk has few routes
        for m in new:
            route = (m.origin, m.destination, m.sender, m.recipient)
            verdict = verdicts.get(route)
            if verdict is None:
                verdict = verdicts[route] = self.policy.verdict(*route)
            if not verdict.carried:
                ignored[m.id] = verdict.reason
        if ignored:
            self.log.info("messages outside the delivery policy ignored", count=len(ignored))
        return ignored

    def _name(self, chain_id: int) -> str:
        return self.names_by_id.get(chain_id, str(chain_id))

    def _dispatch(
        self, log: Mapping[str, Any], topics: Sequence[str], times: Mapping[int, int]
    ) -> NewMessage:
        """A Dispatch log, decoded by hand: the relayer reads thousands a second.

        Dispatch(bytes32 indexed id, uint32 indexed destination, uint32 nonce, bytes message)
        carries ``abi.encode(nonce, message)``; its id is checked against the message's hash.
        """
        raw = self._dispatched(bytes.fromhex(log["data"][2:]))
        message_id = bytes.fromhex(topics[1][2:])
        if keccak256(raw) != message_id:
            raise TreeMismatch(f"chain {self.chain_name}: a Dispatch log's id does not match")
        _version, nonce, origin, sender, destination, recipient = HEADER.unpack_from(raw)
        kind, ref = _kind_and_ref(raw, HEADER_LENGTH)
        block = int(log["blockNumber"], 16)
        tx = str(log["transactionHash"])
        same = self._same.setdefault  # one object for the equal values of the rows held
        return NewMessage(
            message_id, origin, nonce, destination, same(sender, sender),
            same(recipient, recipient), raw, kind, ref, same(tx, tx), block,
            float(times.get(block, 0)),
        )  # fmt: skip

    def _process_log(
        self,
        log: Mapping[str, Any],
        topics: Sequence[str],
        times: Mapping[int, int],
        deliveries: list[tuple[bytes, str, int, float]],
    ) -> None:
        """Process(bytes32 indexed id, uint32 indexed origin, uint32 nonce): a delivery, by
        this relayer or anyone, of the message whose id is the first topic."""
        if topics[0] != self._process_topic:
            return
        block = int(log["blockNumber"], 16)
        message_id = bytes.fromhex(topics[1][2:])
        deliveries.append(
            (message_id, str(log["transactionHash"]), block, float(times.get(block, 0)))
        )

    def _dispatched(self, data: bytes) -> bytes:
        """The message bytes of a Dispatch log's data, ``abi.encode(uint32 nonce, bytes
        message)``, sliced at its fixed layout (nonce word, offset word 0x40, length word,
        message) with every word checked, and the message's own nonce matching the log's."""
        length = int.from_bytes(data[64:96], "big") if len(data) >= 96 else -1
        raw = data[96 : 96 + length]
        if (
            length < HEADER_LENGTH
            or len(raw) != length
            or data[32:64] != _OFFSET_WORD
            or data[:28] != bytes(28)
            or data[28:32] != raw[1:5]
        ):
            raise TreeMismatch(
                f"chain {self.chain_name}: a Dispatch log's data is not abi.encode(nonce, message)"
            )
        return raw

    def _bridge_log(self, log: Mapping[str, Any], events: list[ChainEvent]) -> None:
        """Keep the bridge's rare events (bounces and returns); every transfer's own
        TransferSent/TransferReceived is in the chain for whoever asks, not in the store."""
        assert self.bridge_abi is not None
        if not log["topics"] or log["topics"][0] not in self._kept_bridge_topics:
            return
        decoded = contracts.decode_logs(self.bridge_abi, [log])
        for event, values, raw in decoded:
            key = _event_key(values)
            events.append(
                ChainEvent(
                    chain_id=self.chain_id,
                    block=int(raw["blockNumber"], 16),
                    log_index=int(raw["logIndex"], 16),
                    tx_hash=str(raw["transactionHash"]),
                    name=event.name,
                    key=key,
                    data={k: _jsonable(v) for k, v in values.items()},
                )
            )
            if event.name == "Bounced" and self.metrics:
                origin = values.get("origin")
                origin_name = self._name(int(origin)) if origin is not None else "?"
                self.metrics.bounced.labels(origin_name, self.chain_name).inc()


def _kind_and_ref(raw: bytes, start: int = 0) -> tuple[int | None, bytes | None]:
    """The kind word of the body at ``raw[start:]``, and for a Return the id of the
    transfer it gives back (read in place: a backfill reads thousands a second)."""
    if len(raw) - start < 32 or raw[start : start + 31] != _ZERO_31:
        return None, None
    kind = raw[start + 31]
    if kind == 2 and len(raw) - start >= 160:
        return kind, raw[start + 128 : start + 160]
    return kind, None


_ZERO_31 = bytes(31)
_OFFSET_WORD = (64).to_bytes(32, "big")  # where abi.encode(uint32, bytes) puts the bytes


def _event_key(values: Mapping[str, Any]) -> bytes:
    for name in ("transferId", "messageId", "id"):
        value = values.get(name)
        if isinstance(value, bytes) and len(value) == 32:
            return value
    return b""


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value
