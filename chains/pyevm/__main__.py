"""``python -m chains.pyevm``: run one embedded chain until SIGTERM or SIGINT.

    python -m chains.pyevm --chain-id 65001 [--host 127.0.0.1] [--port 8545]
        [--block-time SECONDS] [--gas-limit GAS]
        [--fund 0xADDR=WEI ...] [--fund-file accounts.json] [--log-level info]

Prints ``pyevm ready chain_id=... url=...`` on stdout once it answers requests.
A start-up problem (busy port, bad option, unreadable fund file) prints one line
on stderr and exits with status 2; there is no traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path
from typing import NoReturn

from chains.pyevm.config import (
    DEFAULT_GAS_LIMIT,
    NodeConfig,
    load_fund_file,
    merge_alloc,
    parse_fund,
)
from chains.pyevm.errors import NodeStartError
from chains.pyevm.node import EmbeddedNode

EXIT_START_FAILED = 2


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one line on stderr (and exit status 2)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_START_FAILED, f"pyevm: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m chains.pyevm", description="An embedded EVM chain (py-evm) over JSON-RPC."
    )
    parser.add_argument("--chain-id", type=int, required=True, help="the chain id (EIP-155)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8545, help="port to listen on (0: any free)")
    parser.add_argument(
        "--block-time",
        type=float,
        default=0.0,
        help="seconds between blocks; 0 mines a block for every transaction",
    )
    parser.add_argument("--gas-limit", type=int, default=DEFAULT_GAS_LIMIT, help="block gas limit")
    parser.add_argument(
        "--fund",
        action="append",
        default=[],
        metavar="0xADDR=WEI",
        help="fund an account at genesis (repeatable)",
    )
    parser.add_argument(
        "--fund-file", type=Path, help='JSON: {"0xADDR": WEI, ...} or [{"address", "balance"}, ...]'
    )
    parser.add_argument(
        "--log-level", default="info", choices=["debug", "info", "warning", "error"]
    )
    return parser


def config_from_args(args: argparse.Namespace) -> NodeConfig:
    """The node's config; NodeStartError names the bad option."""
    pairs = [parse_fund(spec) for spec in args.fund]
    if args.fund_file is not None:
        pairs += load_fund_file(args.fund_file)
    return NodeConfig(
        chain_id=args.chain_id,
        host=args.host,
        port=args.port,
        block_time=args.block_time,
        gas_limit=args.gas_limit,
        alloc=merge_alloc(pairs),
    )


async def serve(config: NodeConfig) -> None:
    """Run the node until SIGTERM or SIGINT, then stop it cleanly."""
    node = EmbeddedNode(config)
    await node.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(f"pyevm ready chain_id={config.chain_id} url={node.url}", flush=True)
    try:
        await stop.wait()
    finally:
        await node.stop()
        logging.getLogger("chains.pyevm").info("stopped")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        config = config_from_args(args)
        asyncio.run(serve(config))
    except NodeStartError as exc:
        print(f"pyevm: {exc}", file=sys.stderr)
        return EXIT_START_FAILED
    return 0


if __name__ == "__main__":
    sys.exit(main())
