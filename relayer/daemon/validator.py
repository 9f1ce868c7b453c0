"""Validators: sign checkpoints of confirmed leaves; collect remote validators' signatures.

A validator signs a checkpoint only when the tree it indexed agrees with the origin
mailbox's own ``latestCheckpoint()`` at the same confirmed block, so a missed log
or a node that lies about one call cannot get a wrong root signed.

Validators run inside the relayer on the devnet (keys from the config), or apart as
``stbridge validator``, which serves its signed checkpoints over HTTP; the relayer
then collects them from the configured URLs and checks every signature itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import aiohttp
from eth_utils.address import to_checksum_address

from relayer.chain import contracts
from relayer.chain.rpc import ChainRpc
from relayer.config import PrivateKey
from relayer.core.checkpoint import Checkpoint, SignatureError, recover, sign_checkpoint
from relayer.daemon.indexer import ChainIndexer
from relayer.daemon.origin import OriginTree
from relayer.errors import ChainError
from relayer.store import Store
from relayer.telemetry.logging import get_logger
from relayer.telemetry.metrics import Metrics


class CheckpointSigner:
    """Signs the origin's confirmed tree with one or more validator keys."""

    def __init__(
        self,
        *,
        origin: OriginTree,
        indexer: ChainIndexer,
        rpc: ChainRpc,
        keys: Sequence[PrivateKey],
        store: Store,
        metrics: Metrics | None = None,
    ) -> None:
        self.origin = origin
        self.indexer = indexer
        self.rpc = rpc
        self.keys = list(keys)
        self.store = store
        self.metrics = metrics
        self.latest: dict[str, dict[str, Any]] = {}  # validator -> last signed checkpoint
        self._latest_fn = contracts.load("Mailbox").fn("latestCheckpoint")
        self.log = get_logger("validator", origin=origin.chain_name)
        self.signed_index = -1

    async def sign_once(self) -> int | None:
        """Sign the newest confirmed checkpoint if it is new; returns its index."""
        count = self.origin.count
        block = self.indexer.state.cursor
        if count == 0 or count - 1 <= self.signed_index or block < 0:
            return None
        index = count - 1
        root = self.origin.tree.root(count)
        onchain = await self.rpc.call(self.origin.mailbox, self._latest_fn.encode(), block)
        chain_root, chain_index = self._latest_fn.decode(onchain)
        if (bytes(chain_root), int(chain_index)) != (root, index):
            if int(chain_index) > index:
                return None  # the indexer has not caught up to this block yet
            raise ChainError(
                f"chain {self.origin.chain_name}: the mailbox's checkpoint at block {block} "
                f"(index {chain_index}) differs from the indexed tree (index {index}); not signing"
            )
        checkpoint = Checkpoint(self.origin.chain_id, self.origin.mailbox_bytes32, root, index)
        for key in self.keys:
            signature = sign_checkpoint(key.secret(), checkpoint)
            await self.store.add_signature(
                checkpoint.origin, index, root, checkpoint.mailbox, key.address, signature
            )
            self.latest[key.address] = checkpoint_json(checkpoint, key.address, signature)
            if self.metrics:
                self.metrics.checkpoint_index.labels(self.origin.chain_name, key.address).set(index)
        self.signed_index = index
        return index


def checkpoint_json(checkpoint: Checkpoint, validator: str, signature: bytes) -> dict[str, Any]:
    """How a validator publishes a signed checkpoint."""
    return {
        "origin": checkpoint.origin,
        "mailbox": "0x" + checkpoint.mailbox.hex(),
        "root": "0x" + checkpoint.root.hex(),
        "index": checkpoint.index,
        "validator": validator,
        "signature": "0x" + signature.hex(),
    }


def parse_signed_checkpoint(
    raw: Any, *, origin: int, mailbox: bytes, validators: Sequence[str]
) -> tuple[Checkpoint, str, bytes]:
    """Check a published checkpoint: right origin and mailbox, signed by a known validator."""
    try:
        checkpoint = Checkpoint(
            origin=int(raw["origin"]),
            mailbox=bytes.fromhex(str(raw["mailbox"])[2:]),
            root=bytes.fromhex(str(raw["root"])[2:]),
            index=int(raw["index"]),
        )
        signature = bytes.fromhex(str(raw["signature"])[2:])
    except (KeyError, TypeError, ValueError) as exc:
        raise SignatureError(f"malformed checkpoint: {exc}") from None
    if checkpoint.origin != origin or checkpoint.mailbox != mailbox:
        raise SignatureError("checkpoint of another origin or mailbox")
    signer = to_checksum_address(recover(checkpoint.signed_digest, signature))
    if signer not in validators:
        raise SignatureError(f"signed by {signer}, who is not a validator")
    return checkpoint, signer, signature


class RemoteCheckpointCollector:
    """Polls remote validators' HTTP endpoints and stores the signatures that check out."""

    def __init__(
        self,
        *,
        origin: OriginTree,
        urls: Sequence[str],
        validators: Sequence[str],
        store: Store,
        interval: float,
    ) -> None:
        self.origin = origin
        self.urls = list(urls)
        self.validators = list(validators)
        self.store = store
        self.interval = interval
        self.log = get_logger("collector", origin=origin.chain_name)

    async def run(self) -> None:
        timeout = aiohttp.ClientTimeout(total=5)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            while True:
                await asyncio.gather(*(self._poll(session, url) for url in self.urls))
                await asyncio.sleep(self.interval)

    async def _poll(self, session: aiohttp.ClientSession, url: str) -> None:
        endpoint = f"{url.rstrip('/')}/checkpoints/{self.origin.chain_id}/latest"
        try:
            async with session.get(endpoint) as response:
                if response.status == 404:
                    return
                response.raise_for_status()
                raw = await response.json()
            checkpoint, signer, signature = parse_signed_checkpoint(
                raw,
                origin=self.origin.chain_id,
                mailbox=self.origin.mailbox_bytes32,
                validators=self.validators,
            )
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            self.log.warning("validator unreachable or wrong", url=url, error=str(exc)[:200])
            return
        await self.store.add_signature(
            checkpoint.origin, checkpoint.index, checkpoint.root, checkpoint.mailbox, signer,
            signature,
        )  # fmt: skip
