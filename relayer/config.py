"""Configuration: a TOML file, validated, with every problem named by its exact key.

A config describes the chains (name, chain id, RPC URL, confirmations, block time),
which chain is home, the accounts by role, the validator committee and the relayer's
settings. Keys are written either as ``"0x…"`` (allowed only in a file marked
``devnet_only = true``) or as ``"env:VARIABLE"``; a key read from the environment is
never echoed in an error.

pydantic does the type checking (it reports every field by its location, refuses
unknown keys with ``extra="forbid"``, and keeps secrets out of ``repr``); this module
adds the cross-field rules and turns pydantic's report into one line per problem.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlparse

from eth_account import Account
from eth_utils.address import is_address
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from relayer.errors import ConfigError

DEFAULT_CONFIG = Path("configs/devnet.toml")
_HEX_KEY = re.compile(r"^(0x)?[0-9a-fA-F]{64}$")
_ENV_KEY = re.compile(r"^env:([A-Za-z_][A-Za-z0-9_]*)$")
_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
_NAME_RULE = "must be lowercase letters, digits, '-' or '_', starting with a letter"


@dataclass(frozen=True, slots=True)
class PrivateKey:
    """A signing key and its address. ``repr`` and ``str`` show the address only."""

    address: str
    _secret: bytes
    source: str  # "inline" or "env:NAME", for messages

    @classmethod
    def from_hex(cls, value: str, source: str) -> PrivateKey:
        raw = bytes.fromhex(value.removeprefix("0x"))
        try:
            address = Account.from_key(raw).address
        except (ValueError, TypeError) as exc:  # out of the curve's range
            raise ValueError("not a valid secp256k1 private key") from exc
        return cls(address=address, _secret=raw, source=source)

    def secret(self) -> bytes:
        """The raw 32-byte key, for signing only. Never log it."""
        return self._secret

    def __repr__(self) -> str:
        return f"PrivateKey({self.address}, {self.source})"

    __str__ = __repr__


def parse_key(value: object, env: Mapping[str, str]) -> PrivateKey:
    """Turn a config value into a key: ``"0x…"`` or ``"env:NAME"``."""
    if not isinstance(value, str):
        raise ValueError(f"expected a string (0x… key or env:NAME), got {type(value).__name__}")
    env_match = _ENV_KEY.match(value)
    if env_match:
        name = env_match.group(1)
        if name not in env:
            raise ValueError(f"environment variable {name} is not set (export {name}=0x…)")
        if not _HEX_KEY.match(env[name].strip()):
            raise ValueError(f"environment variable {name} does not hold a 32-byte hex key")
        return PrivateKey.from_hex(env[name].strip(), source=f"env:{name}")
    if value.startswith("env:"):
        raise ValueError(f"bad environment reference {value!r}: write env:VARIABLE_NAME")
    if not _HEX_KEY.match(value):
        raise ValueError("not a 32-byte hex private key (0x + 64 hex digits) or env:NAME")
    return PrivateKey.from_hex(value, source="inline")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class ChainConfig(_Strict):
    """One EVM chain."""

    name: str
    chain_id: Annotated[int, Field(ge=1, le=2**32 - 1)]
    rpc_url: str
    confirmations: Annotated[int, Field(ge=0, le=10_000)] = 1
    block_time: Annotated[float, Field(ge=0, le=3600)] = 1.0
    gas_limit: Annotated[int, Field(ge=1_000_000)] = 30_000_000
    rpc_requests_per_second: Annotated[int, Field(ge=1)] = 200
    rpc_timeout: Annotated[float, Field(gt=0, le=600)] = 10.0
    # gwei: no transaction is signed with a higher maxFeePerGas; while the base fee is
    # above it, sends wait (stbridge_fee_above_cap). Unset: no cap.
    max_fee_per_gas: Annotated[float | None, Field(gt=0, le=10**9)] = None
    # more endpoints of the same chain, tried in order after rpc_url (failover)
    rpc_urls: list[str] = []
    # an endpoint whose head lags the best one by more than this is left for the next
    rpc_max_lag_blocks: Annotated[int, Field(ge=1, le=100_000)] = 5
    # seconds without any answer before /readyz names the chain (default: 3 blocks, >= 10 s)
    rpc_grace: Annotated[float | None, Field(gt=0, le=3600)] = None

    @field_validator("block_time", "rpc_timeout", "max_fee_per_gas", "rpc_grace", mode="before")
    @classmethod
    def _int_is_float(cls, value: object) -> object:
        return float(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError(_NAME_RULE)
        return value

    @field_validator("rpc_url")
    @classmethod
    def _url(cls, value: str) -> str:
        return _http_url(value)

    @field_validator("rpc_urls")
    @classmethod
    def _urls(cls, value: list[str]) -> list[str]:
        return [_http_url(v) for v in value]

    @property
    def endpoints(self) -> list[str]:
        """Every RPC URL of the chain, preferred first: rpc_url, then rpc_urls (no repeats)."""
        out = [self.rpc_url]
        for url in self.rpc_urls:
            if url not in out:
                out.append(url)
        return out

    @property
    def grace(self) -> float:
        """Seconds without an answer before the chain counts as unreachable."""
        if self.rpc_grace is not None:
            return self.rpc_grace
        return max(3 * self.block_time, 10.0)

    @property
    def host(self) -> str:
        return urlparse(self.rpc_url).hostname or "127.0.0.1"

    @property
    def max_fee_per_gas_wei(self) -> int | None:
        """The fee cap in wei, or None."""
        if self.max_fee_per_gas is None:
            return None
        return round(self.max_fee_per_gas * 10**9)

    @property
    def port(self) -> int:
        parsed = urlparse(self.rpc_url)
        return parsed.port or (443 if parsed.scheme == "https" else 80)


def _http_url(value: str) -> str:
    """``value`` if it is an http(s) URL with a host and a valid port; ValueError otherwise
    (the message shows the URL without its credentials)."""
    parsed = urlparse(value)
    shown = public_url(value)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ValueError(f"{shown!r} is not an http(s) URL like http://127.0.0.1:8545")
    try:
        parsed.port  # noqa: B018 - raises on a bad port
    except ValueError as exc:
        raise ValueError(f"{shown!r} has an invalid port") from exc
    return value


def public_url(url: str) -> str:
    """``url`` as logs and metric labels may show it: no user or password, no query or
    fragment, and a path segment that looks like an API key (16 characters or more)
    replaced by ``***``: ``https://eth.example/v3/***``."""
    parsed = urlparse(url)
    host = parsed.hostname or ""
    if ":" in host:  # IPv6
        host = f"[{host}]"
    try:
        port = parsed.port
    except ValueError:
        port = None
    netloc = f"{host}:{port}" if port else host
    segments = ["***" if len(part) >= 16 else part for part in parsed.path.split("/")]
    path = "/".join(segments).rstrip("/")
    return f"{parsed.scheme}://{netloc}{path}"


class AccountsConfig(_Strict):
    """The accounts stbridge signs with, by role."""

    devnet_only: bool = False
    deployer: PrivateKey
    issuer_agent: PrivateKey
    guardian: PrivateKey | None = None
    validators: list[PrivateKey]
    relayer: PrivateKey
    investors: list[PrivateKey] = []
    traders: list[PrivateKey] = []

    model_config = ConfigDict(
        extra="forbid", frozen=True, strict=True, arbitrary_types_allowed=True
    )

    def roles(self) -> list[tuple[str, PrivateKey]]:
        """Every account with its role name, in a stable order (for funding and tables)."""
        out: list[tuple[str, PrivateKey]] = [
            ("deployer", self.deployer),
            ("issuer_agent", self.issuer_agent),
        ]
        if self.guardian is not None:
            out.append(("guardian", self.guardian))
        out += [(f"validator[{i}]", k) for i, k in enumerate(self.validators)]
        out.append(("relayer", self.relayer))
        out += [(f"investor[{i}]", k) for i, k in enumerate(self.investors)]
        out += [(f"trader[{i}]", k) for i, k in enumerate(self.traders)]
        return out


class ValidatorsConfig(_Strict):
    """The checkpoint committee of each origin: m of the accounts.validators keys."""

    threshold: Annotated[int, Field(ge=1)]
    mode: Literal["in-process", "remote"] = "in-process"
    urls: list[str] = []  # where remote validators serve signed checkpoints


class PolicyRoute(_Strict):
    """One (origin sender, destination recipient) pair a lane may carry, beyond the
    deployment's own applications."""

    lane: str  # "ORIGIN->DESTINATION", by chain name
    sender: str  # the contract (or account) that dispatched on the origin
    recipient: str  # the contract that handles it on the destination

    @field_validator("lane")
    @classmethod
    def _lane(cls, value: str) -> str:
        parts = value.split("->")
        if len(parts) != 2 or not all(_NAME.match(p.strip()) for p in parts):
            raise ValueError(f'{value!r} is not a lane like "a->b" (chain names)')
        return "->".join(p.strip() for p in parts)

    @field_validator("sender", "recipient")
    @classmethod
    def _address(cls, value: str) -> str:
        if not is_address(value):
            raise ValueError(f"{value!r} is not a 0x-prefixed 20-byte address")
        return value.lower()


class PolicyConfig(_Strict):
    """What the relayer carries (``[relayer.policy]``).

    ``deployment``: only messages between the deployment's applications (bridges, the
    registry and its mirrors) plus ``allow``. ``allow-list``: the same (the name says the
    operator widened it). ``open``: every message, each origin sender spending at most
    ``open_gas_per_sender_per_hour`` of the relayer's gas.
    """

    mode: Literal["deployment", "allow-list", "open"] = "deployment"
    allow: list[PolicyRoute] = []
    open_gas_per_sender_per_hour: Annotated[int, Field(ge=0)] = 5_000_000


class RelayerConfig(_Strict):
    """The daemon's settings."""

    store: str = "sqlite:///.stbridge/relayer.db"
    metrics_host: str = "127.0.0.1"
    metrics_port: Annotated[int, Field(ge=0, le=65535)] = 9464
    batch_max_messages: Annotated[int, Field(ge=1, le=1000)] = 100
    batch_gas_budget: Annotated[int, Field(ge=100_000)] = 12_000_000
    batch_wait: Annotated[float, Field(ge=0, le=60)] = 0.25
    poll_interval: Annotated[float, Field(gt=0, le=60)] = 0.5
    log_chunk_blocks: Annotated[int, Field(ge=1, le=100_000)] = 2_000
    min_relayer_balance_wei: Annotated[int, Field(ge=0)] = 10**17
    refund_expired_locks: bool = True
    # seconds before an unmined transaction is replaced with higher fees (default: six
    # blocks of the destination, at least 6 s)
    stuck_after: Annotated[float | None, Field(gt=0, le=3600)] = None
    # seconds a lane's claim on messages keeps other relayers sharing the store off them;
    # a dead relayer's claims pass to another one after this long
    lease_seconds: Annotated[float, Field(ge=1, le=3600)] = 60.0
    # which messages the relayer pays for; the rest are stored as ignored
    policy: PolicyConfig = PolicyConfig()
    # failed attempts after which a message waits for an operator (`messages retry`)
    max_attempts: Annotated[int, Field(ge=1, le=10_000)] = 12
    # seconds between updates of the store's gauges (backlog, oldest pending) and balances
    gauge_interval: Annotated[float, Field(gt=0, le=300)] = 5.0
    # the console and its JSON API (relayer/console): served on the metrics port unless
    # console_port is set; read-only unless a token is set (here as "env:NAME" or the
    # token itself, or in STBRIDGE_CONSOLE_TOKEN)
    console: bool = True
    console_host: str = "127.0.0.1"
    console_port: Annotated[int | None, Field(ge=0, le=65535)] = None
    console_token: str | None = Field(default=None, repr=False)

    @field_validator(
        "batch_wait", "poll_interval", "stuck_after", "lease_seconds", "gauge_interval",
        mode="before",
    )  # fmt: skip
    @classmethod
    def _int_is_float(cls, value: object) -> object:
        return float(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @field_validator("store")
    @classmethod
    def _store(cls, value: str) -> str:
        if not (
            value.startswith("sqlite:///") or value.startswith(("postgresql://", "postgres://"))
        ):
            raise ValueError("must be sqlite:///PATH or postgresql://USER@HOST/DB")
        return value


class TokenConfig(_Strict):
    """A security token issued on the home chain and mirrored on the others."""

    symbol: str
    name: str
    decimals: Annotated[int, Field(ge=0, le=36)] = 18
    rate_limit: Annotated[int, Field(ge=0)] = 0  # whole tokens per lane and direction; 0: none
    refill_per_second: Annotated[int, Field(ge=0)] = 0  # whole tokens

    @field_validator("symbol")
    @classmethod
    def _symbol(cls, value: str) -> str:
        if not re.match(r"^[A-Za-z0-9]{1,11}$", value):
            raise ValueError("must be 1 to 11 letters or digits")
        return value


class PaymentTokenConfig(_Strict):
    """The devnet's plain ERC-20 for payment legs, deployed on every chain."""

    symbol: str = "dUSD"
    name: str = "Devnet USD"
    decimals: Annotated[int, Field(ge=0, le=36)] = 6


class DvpConfig(_Strict):
    """Cross-chain DvP: the time the trader tools demand (docs/dvp.md). Unset: derived
    from the two chains of a trade (relayer.dvp.protocol.default_margin, default_min_window)."""

    margin_seconds: Annotated[int | None, Field(ge=1)] = None  # T_B - T_A at least
    min_window_seconds: Annotated[int | None, Field(ge=1)] = None  # an asset expiry ahead of now


class DistributionConfig(_Strict):
    """Distributions (docs/distributions.md): where withheld tax and rounding dust go, and the
    withholding rate per holder country (ISO 3166 numeric -> percent, e.g. "276" = "26.375").
    Unset accounts: the issuer agent's address."""

    tax_account: str | None = None
    dust_account: str | None = None
    withholding: dict[str, str] = {}


class Config(_Strict):
    """A whole stbridge configuration."""

    network: str
    home: str
    chains: list[ChainConfig]
    accounts: AccountsConfig
    validators: ValidatorsConfig
    relayer: RelayerConfig = RelayerConfig()
    tokens: list[TokenConfig] = [TokenConfig(symbol="ACME", name="Acme Growth Fund")]
    payment_token: PaymentTokenConfig | None = None
    dvp: DvpConfig = DvpConfig()
    distribution: DistributionConfig = DistributionConfig()

    model_config = ConfigDict(
        extra="forbid", frozen=True, strict=True, arbitrary_types_allowed=True
    )

    @field_validator("network")
    @classmethod
    def _network(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError(_NAME_RULE)
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Config:
        if len(self.chains) < 2:
            raise _KeyedError("chains", "a bridge needs at least two chains")
        for field, label in (("name", "name"), ("chain_id", "chain id")):
            seen: dict[object, int] = {}
            for i, chain in enumerate(self.chains):
                value = getattr(chain, field)
                if value in seen:
                    raise _KeyedError(
                        f"chains[{i}].{field}",
                        f"duplicate {label} {value} (also chains[{seen[value]}])",
                    )
                seen[value] = i
        if self.home not in {c.name for c in self.chains}:
            names = ", ".join(c.name for c in self.chains)
            raise _KeyedError("home", f"{self.home!r} is not one of the chains ({names})")
        n = len(self.accounts.validators)
        if n == 0:
            raise _KeyedError("accounts.validators", "at least one validator key is needed")
        threshold = self.validators.threshold
        if threshold > n:
            raise _KeyedError(
                "validators.threshold", f"{threshold} is more than the {n} validator keys"
            )
        if not self.accounts.devnet_only and threshold * 2 <= n:
            raise _KeyedError(
                "validators.threshold",
                f"{threshold} of {n} is not a majority; production needs more than {n // 2}",
            )
        symbols: dict[str, int] = {}
        for i, token in enumerate(self.tokens):
            first = symbols.setdefault(token.symbol.lower(), i)
            if first != i:
                raise _KeyedError(
                    f"tokens[{i}].symbol", f"duplicate symbol {token.symbol} (also tokens[{first}])"
                )
        if self.validators.mode == "remote" and not self.validators.urls:
            raise _KeyedError("validators.urls", "remote validators need their URLs")
        chain_names = {c.name for c in self.chains}
        for i, route in enumerate(self.relayer.policy.allow):
            origin, destination = route.lane.split("->")
            if origin not in chain_names or destination not in chain_names or origin == destination:
                raise _KeyedError(
                    f"relayer.policy.allow[{i}].lane",
                    f"{route.lane!r} is not a lane between two of the chains "
                    f"({', '.join(sorted(chain_names))})",
                )
        return self

    def chain(self, name: str) -> ChainConfig:
        """The chain called ``name``; ConfigError naming the known chains otherwise."""
        for chain in self.chains:
            if chain.name == name:
                return chain
        known = ", ".join(c.name for c in self.chains)
        raise ConfigError(f"no chain named {name!r} in the config (known: {known})")

    def chain_by_id(self, chain_id: int) -> ChainConfig:
        for chain in self.chains:
            if chain.chain_id == chain_id:
                return chain
        raise ConfigError(f"no chain with id {chain_id} in the config")

    @property
    def home_chain(self) -> ChainConfig:
        return self.chain(self.home)

    @property
    def remote_chains(self) -> list[ChainConfig]:
        return [c for c in self.chains if c.name != self.home]

    def poll_interval(self, chain: ChainConfig) -> float:
        """How often to poll a chain: the relayer's interval, or half a block if faster."""
        return min(self.relayer.poll_interval, max(chain.block_time / 2, 0.05))

    def weak_threshold_warning(self) -> str | None:
        """A warning when the threshold is below two thirds (Wormhole runs 13 of 19)."""
        n = len(self.accounts.validators)
        if self.accounts.devnet_only or self.validators.threshold * 3 >= n * 2:
            return None
        return f"validator threshold {self.validators.threshold} of {n} is below two thirds"


class _KeyedError(ValueError):
    """A cross-field problem that knows the key it belongs to."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(problem)
        self.key = key
        self.problem = problem


_KEY_FIELDS = (
    "deployer",
    "issuer_agent",
    "guardian",
    "relayer",
    "validators",
    "investors",
    "traders",
)


def _resolve_keys(raw: dict[str, Any], env: Mapping[str, str]) -> tuple[list[str], set[str]]:
    """Replace the key strings of ``[accounts]`` by PrivateKey objects.

    Returns the problems found and the fields they were found in (so the schema
    check does not report the same field a second time).
    """
    problems: list[str] = []
    failed: set[str] = set()
    accounts = raw.get("accounts")
    if not isinstance(accounts, dict):
        return problems, failed
    devnet_only = accounts.get("devnet_only") is True
    for field in _KEY_FIELDS:
        if field not in accounts:
            continue
        value = accounts[field]
        if field in ("validators", "investors", "traders"):
            if not isinstance(value, list):
                problems.append(f"accounts.{field}: expected a list of keys")
                failed.add(f"accounts.{field}")
                continue
            items = [(f"accounts.{field}[{i}]", v) for i, v in enumerate(value)]
        else:
            items = [(f"accounts.{field}", value)]
        parsed: list[PrivateKey] = []
        for key, item in items:
            if isinstance(item, str) and not devnet_only and not item.startswith("env:"):
                problems.append(
                    f"{key}: inline keys are allowed only with accounts.devnet_only = true; "
                    "use env:VARIABLE"
                )
                failed.add(f"accounts.{field}")
                continue
            try:
                parsed.append(parse_key(item, env))
            except ValueError as exc:
                problems.append(f"{key}: {exc}")
                failed.add(f"accounts.{field}")
        if field in ("validators", "investors", "traders"):
            accounts[field] = parsed
        elif parsed:
            accounts[field] = parsed[0]
    return problems, failed


def _location(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _describe(error: Mapping[str, Any]) -> str:
    loc = _location(tuple(error["loc"]))
    kind = error["type"]
    if kind == "extra_forbidden":
        return f"{loc}: unknown key"
    if kind == "missing":
        return f"{loc}: required key is missing"
    ctx = error.get("ctx") or {}
    if kind == "value_error" and isinstance(ctx.get("error"), _KeyedError):
        keyed: _KeyedError = ctx["error"]
        return f"{keyed.key}: {keyed.problem}"
    message = str(error["msg"]).removeprefix("Value error, ")
    if kind.endswith("_type") or kind.endswith("_parsing"):
        value = error.get("input")
        shown = f"{value!r}" if not isinstance(value, PrivateKey) else "a key"
        message = f"{message} (got {shown})"
    return f"{loc}: {message}" if loc else message


def parse_config(
    raw: dict[str, Any], *, source: str = "config", env: Mapping[str, str] | None = None
) -> Config:
    """Validate an already-parsed TOML document. Raises ConfigError naming each problem."""
    env = os.environ if env is None else env
    raw = _deep_copy(raw)
    problems, failed = _resolve_keys(raw, env)
    config: Config | None = None
    try:
        config = Config.model_validate(raw)
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            loc = _location(tuple(error["loc"]))
            if any(loc == f or loc.startswith((f + ".", f + "[")) for f in failed):
                continue
            problems.append(_describe(error))
    if problems:
        shown = "; ".join(problems[:5])
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        raise ConfigError(f"{source}: {shown}{more}")
    assert config is not None
    return config


def load_config(path: Path | str | None = None, *, env: Mapping[str, str] | None = None) -> Config:
    """Read and validate a TOML config file (default: configs/devnet.toml)."""
    path = Path(path) if path is not None else _default_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file (pass --config PATH)") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    return parse_config(raw, source=str(path), env=env)


def _default_path() -> Path:
    """configs/devnet.toml in the working directory, else the one shipped with the code."""
    if DEFAULT_CONFIG.exists():
        return DEFAULT_CONFIG
    shipped = Path(__file__).resolve().parent.parent / DEFAULT_CONFIG
    return shipped if shipped.exists() else DEFAULT_CONFIG


def _deep_copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _deep_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_deep_copy(v) for v in value]
    return value
