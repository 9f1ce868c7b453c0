"""A validator run apart from relayers: ``stbridge validator``.

It indexes every origin chain itself (its own store), signs each new confirmed
checkpoint with its one key, and serves the latest signed checkpoint per origin at
``GET /checkpoints/<origin chain id>/latest`` for relayers to collect.
"""

from __future__ import annotations

import asyncio
import contextlib

from aiohttp import web

from relayer.chain.rpc import ChainRpc
from relayer.config import Config, PrivateKey
from relayer.daemon.indexer import ChainIndexer
from relayer.daemon.origin import MailboxSink, OriginTree
from relayer.daemon.validator import CheckpointSigner
from relayer.deployment.record import Deployment
from relayer.errors import ChainError, StbridgeError
from relayer.store import Store
from relayer.telemetry.logging import get_logger


class ValidatorService:
    """Signs checkpoints of every origin with one key and serves them over HTTP."""

    def __init__(
        self,
        config: Config,
        deployment: Deployment,
        store: Store,
        key: PrivateKey,
        *,
        host: str,
        port: int,
    ) -> None:
        self.config = config
        self.deployment = deployment
        self.store = store
        self.key = key
        self.host = host
        self.port = port
        self.signers: dict[int, CheckpointSigner] = {}
        self.ready = asyncio.Event()
        self.log = get_logger("validator", validator=key.address)

    async def _latest(self, request: web.Request) -> web.Response:
        try:
            origin = int(request.match_info["origin"])
        except ValueError:
            return web.json_response({"error": "origin must be a chain id"}, status=400)
        signer = self.signers.get(origin)
        if signer is None:
            return web.json_response({"error": f"no origin {origin}"}, status=404)
        latest = signer.latest.get(self.key.address)
        if latest is None:
            return web.json_response({"error": "nothing signed yet"}, status=404)
        return web.json_response(latest)

    async def run(self) -> None:
        names = {c.chain_id: c.name for c in self.config.chains}
        rpcs: list[ChainRpc] = []
        runner: web.AppRunner | None = None
        try:
            async with asyncio.TaskGroup() as group:
                for chain in self.config.chains:
                    rpc = ChainRpc(chain)
                    rpcs.append(rpc)
                    deployed = self.deployment.chain(chain.name)
                    origin = OriginTree(chain.name, chain.chain_id, deployed.address("Mailbox"))
                    await origin.load(self.store)
                    sink = MailboxSink(
                        chain_name=chain.name, chain_id=chain.chain_id, origin=origin,
                        store=self.store, names_by_id=names, bridge=None,
                    )  # fmt: skip
                    indexer = ChainIndexer(
                        rpc, self.store, addresses=[origin.mailbox], sink=sink,
                        start_block=deployed.start_block, confirmations=chain.confirmations,
                        poll_interval=self.config.poll_interval(chain),
                        chunk_blocks=self.config.relayer.log_chunk_blocks,
                    )  # fmt: skip
                    signer = CheckpointSigner(
                        origin=origin, indexer=indexer, rpc=rpc, keys=[self.key], store=self.store
                    )
                    self.signers[chain.chain_id] = signer
                    group.create_task(indexer.run())
                    group.create_task(self._sign(indexer, signer))
                app = web.Application()
                app.router.add_get("/checkpoints/{origin}/latest", self._latest)
                runner = web.AppRunner(app, access_log=None)
                await runner.setup()
                site = web.TCPSite(runner, self.host, self.port, shutdown_timeout=2.0)
                try:
                    await site.start()
                except OSError as exc:
                    raise StbridgeError(
                        f"cannot serve on {self.host}:{self.port} ({exc.strerror}): "
                        "choose another --port"
                    ) from None
                self.ready.set()
                self.log.info("validator serving", url=f"http://{self.host}:{self.port}")
        finally:
            if runner is not None:
                await runner.cleanup()
            for rpc in rpcs:
                with contextlib.suppress(Exception):
                    await rpc.close()

    async def _sign(self, indexer: ChainIndexer, signer: CheckpointSigner) -> None:
        while indexer.state.halted is None:
            try:
                await signer.sign_once()
            except ChainError as exc:
                self.log.warning("could not sign; retrying", error=str(exc))
            await indexer.wait_for_progress(indexer.poll_interval * 4)
