"""The delivery policy: which messages the relayer pays to deliver.

The mailbox is open to every sender; the relayer is not. By default it carries the
messages between the deployment's own applications: TokenBridge to TokenBridge on
the lanes the bridges enroll (home to every remote and back), IdentityRegistry to
every MirrorIdentityRegistry. ``relayer.policy.allow`` adds (lane, sender, recipient)
routes. ``mode = "open"`` carries every message, each origin sender outside the
routes spending at most ``open_gas_per_sender_per_hour`` of the relayer's gas.

A message the policy does not carry is stored ``ignored`` with the reason and is never
submitted. The verdict is taken when a message is indexed, again when a lane claims
it (a policy changed by a restart applies to stored messages), and ignored messages
are looked at again when the relayer starts (a widened policy takes them back).
"""

from __future__ import annotations

import json
import time
from collections import defaultdict, deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from relayer.config import Config
from relayer.deployment.record import Deployment

HOUR = 3600.0

Route = tuple[int, int, bytes, bytes]  # origin id, destination id, sender, recipient (32 B)


def word(address: str) -> bytes:
    """An address as the mailbox writes it in a message: 32 bytes, left-padded."""
    return bytes(12) + bytes.fromhex(address.lower().removeprefix("0x"))


def show(value: bytes) -> str:
    """A 32-byte sender or recipient as an address when it is one, else in full."""
    if len(value) == 32 and not any(value[:12]):
        return "0x" + value[12:].hex()
    return "0x" + value.hex()


def deployment_routes(config: Config, deployment: Deployment) -> set[Route]:
    """The (origin, destination, sender, recipient) pairs of the deployment's own apps.

    Parameters
    ----------
    config: the chains (ids, which one is home).
    deployment: the contracts on them.

    Returns
    -------
    Every route on which one of the deployment's contracts dispatches to another: the
    home bridge and each remote bridge both ways (the bridges enroll only these), and
    the home IdentityRegistry to each remote's MirrorIdentityRegistry, the home
    DistributionManager to each remote's Distributor, and the home VoteManager and each
    remote's Ballot both ways.
    """
    routes: set[Route] = set()
    home = config.chain(config.home)
    home_contracts = (
        deployment.chains[home.name].contracts if home.name in deployment.chains else {}
    )
    for remote in config.remote_chains:
        there = deployment.chains.get(remote.name)
        if there is None:
            continue
        a, b = home_contracts.get("TokenBridge"), there.contracts.get("TokenBridge")
        if a and b:
            routes.add((home.chain_id, remote.chain_id, word(a), word(b)))
            routes.add((remote.chain_id, home.chain_id, word(b), word(a)))
        registry = home_contracts.get("IdentityRegistry")
        mirror = there.contracts.get("MirrorIdentityRegistry")
        if registry and mirror:
            routes.add((home.chain_id, remote.chain_id, word(registry), word(mirror)))
        manager, distributor = (
            home_contracts.get("DistributionManager"),
            there.contracts.get("Distributor"),
        )
        if manager and distributor:  # a distribution's root for that chain (docs/distributions.md)
            routes.add((home.chain_id, remote.chain_id, word(manager), word(distributor)))
        votes, ballot = home_contracts.get("VoteManager"), there.contracts.get("Ballot")
        if votes and ballot:  # a vote's root out, the chain's tally back
            routes.add((home.chain_id, remote.chain_id, word(votes), word(ballot)))
            routes.add((remote.chain_id, home.chain_id, word(ballot), word(votes)))
    return routes


class SenderBudget:
    """Gas spent per origin sender over the last hour (open mode).

    Kept in memory and saved in the store's state (``snapshot``/``restore``, by the daemon
    every few seconds and at its stop), so a restart does not start a fresh hour.
    """

    def __init__(self, per_hour: int) -> None:
        self.per_hour = per_hour
        self._spent: dict[tuple[int, bytes], deque[tuple[float, int]]] = defaultdict(deque)
        self.dirty = False  # charged since the last snapshot

    def snapshot(self, now: float | None = None) -> str:
        """The last hour's charges as JSON (older ones dropped)."""
        now = time.time() if now is None else now
        rows = [
            [origin, sender.hex(), [[at, gas] for at, gas in self._window((origin, sender), now)]]
            for origin, sender in list(self._spent)
        ]
        return json.dumps({"version": 1, "spent": [r for r in rows if r[2]]})

    def restore(self, text: str, now: float | None = None) -> None:
        """Add the charges of a snapshot still inside their hour (a bad one is ignored)."""
        now = time.time() if now is None else now
        try:
            doc = json.loads(text)
            rows = doc["spent"] if doc.get("version") == 1 else []
            for origin, sender, charges in rows:
                for at, gas in charges:
                    if float(at) > now - HOUR:
                        self._spent[(int(origin), bytes.fromhex(sender))].append(
                            (float(at), int(gas))
                        )
        except (ValueError, TypeError, KeyError, AttributeError):
            return
        for spent in self._spent.values():
            ordered = sorted(spent)
            spent.clear()
            spent.extend(ordered)

    def _window(self, key: tuple[int, bytes], now: float) -> deque[tuple[float, int]]:
        spent = self._spent[key]
        while spent and spent[0][0] <= now - HOUR:
            spent.popleft()
        return spent

    def spent(self, origin: int, sender: bytes, now: float | None = None) -> int:
        now = time.time() if now is None else now
        return sum(gas for _t, gas in self._window((origin, sender), now))

    def free_at(self, origin: int, sender: bytes, now: float | None = None) -> float | None:
        """None when the sender may spend now; else when enough of its hour has passed."""
        now = time.time() if now is None else now
        window = self._window((origin, sender), now)
        total = sum(gas for _t, gas in window)
        if total < self.per_hour:
            return None
        for at, gas in window:  # oldest first: wait until the total drops under the budget
            total -= gas
            if total < self.per_hour:
                return at + HOUR
        return now + HOUR

    def charge(self, origin: int, sender: bytes, gas: int, now: float | None = None) -> None:
        self._spent[(origin, sender)].append((time.time() if now is None else now, gas))
        self.dirty = True


@dataclass(frozen=True)
class Verdict:
    """Whether a message is carried; ``reason`` says why not."""

    carried: bool
    reason: str = ""


CARRIED = Verdict(True)


class DeliveryPolicy:
    """Decides, per message, whether the relayer delivers it."""

    def __init__(
        self,
        *,
        mode: str,
        routes: Iterable[Route],
        chain_names: Mapping[int, str],
        budget_per_hour: int = 0,
    ) -> None:
        self.mode = mode
        self.routes = frozenset(routes)
        self.names = dict(chain_names)
        self.budget = SenderBudget(budget_per_hour)
        self._apps: dict[int, set[bytes]] = defaultdict(set)  # chain id -> app addresses
        for origin, destination, sender, recipient in self.routes:
            self._apps[origin].add(sender)
            self._apps[destination].add(recipient)

    @classmethod
    def from_config(cls, config: Config, deployment: Deployment) -> DeliveryPolicy:
        policy = config.relayer.policy
        ids = {c.name: c.chain_id for c in config.chains}
        routes = deployment_routes(config, deployment)
        for route in policy.allow:
            origin, destination = route.lane.split("->")
            routes.add((ids[origin], ids[destination], word(route.sender), word(route.recipient)))
        return cls(
            mode=policy.mode,
            routes=routes,
            chain_names={c.chain_id: c.name for c in config.chains},
            budget_per_hour=policy.open_gas_per_sender_per_hour,
        )

    def lane_name(self, origin: int, destination: int) -> str:
        return f"{self._name(origin)}->{self._name(destination)}"

    def _name(self, chain_id: int) -> str:
        return self.names.get(chain_id, str(chain_id))

    def on_route(self, origin: int, destination: int, sender: bytes, recipient: bytes) -> bool:
        """Whether the message is between applications the policy names (never budgeted)."""
        return (origin, destination, sender, recipient) in self.routes

    def verdict(self, origin: int, destination: int, sender: bytes, recipient: bytes) -> Verdict:
        """The policy's answer for a message, decided from its header alone."""
        if destination not in self.names:
            return Verdict(False, f"destination {destination} is not a chain this relayer serves")
        if self.mode == "open" or self.on_route(origin, destination, sender, recipient):
            return CARRIED
        rule = f"(delivery policy: {self.mode})"
        if sender not in self._apps[origin]:
            return Verdict(
                False,
                f"sender {show(sender)} on {self._name(origin)} is not one of this "
                f"deployment's applications {rule}",
            )
        return Verdict(
            False,
            f"recipient {show(recipient)} on {self._name(destination)} is not an application "
            f"{show(sender)} on {self._name(origin)} may send to {rule}",
        )

    def over_budget(
        self, origin: int, sender: bytes, recipient: bytes, destination: int
    ) -> float | None:
        """Open mode: when a sender outside the routes may spend again (None: it may now)."""
        if self.mode != "open" or self.on_route(origin, destination, sender, recipient):
            return None
        return self.budget.free_at(origin, sender)

    def charge(
        self, origin: int, destination: int, sender: bytes, recipient: bytes, gas: int
    ) -> None:
        """Count gas spent on a message against its sender's hour (open mode, off-route)."""
        if self.mode == "open" and not self.on_route(origin, destination, sender, recipient):
            self.budget.charge(origin, sender, gas)
