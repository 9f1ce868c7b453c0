"""The delivery policy: which messages the relayer pays for, what a revert means."""

from __future__ import annotations

import pytest

from relayer.config import parse_config
from relayer.daemon.policy import DeliveryPolicy, SenderBudget, deployment_routes, word
from relayer.daemon.refusal import batch_wide, failure, retry_at, terminal
from relayer.deployment.record import ChainDeployment, Deployment
from relayer.errors import ConfigError
from relayer.store.models import NEVER
from tests.helpers import devnet_raw

A, B = 65001, 65002
BRIDGE_A, BRIDGE_B = "0x" + "a1" * 20, "0x" + "b1" * 20
REGISTRY, MIRROR = "0x" + "a2" * 20, "0x" + "b2" * 20
STRANGER = "0x" + "5e" * 20


def deployment() -> Deployment:
    return Deployment(
        network="devnet",
        home="a",
        chains={
            "a": ChainDeployment(
                "a", A, 0, {"TokenBridge": BRIDGE_A, "IdentityRegistry": REGISTRY}
            ),
            "b": ChainDeployment(
                "b", B, 0, {"TokenBridge": BRIDGE_B, "MirrorIdentityRegistry": MIRROR}
            ),
        },
    )


def policy(**settings: object) -> DeliveryPolicy:
    raw = devnet_raw()
    raw["relayer"]["policy"] = settings
    return DeliveryPolicy.from_config(parse_config(raw), deployment())


def test_the_deployment_routes_are_its_bridges_and_the_registry_to_its_mirror() -> None:
    config = parse_config(devnet_raw())
    assert deployment_routes(config, deployment()) == {
        (A, B, word(BRIDGE_A), word(BRIDGE_B)),
        (B, A, word(BRIDGE_B), word(BRIDGE_A)),
        (A, B, word(REGISTRY), word(MIRROR)),
    }


def test_default_policy_ignores_strangers_with_the_reason() -> None:
    p = policy()
    assert p.verdict(A, B, word(BRIDGE_A), word(BRIDGE_B)).carried
    assert p.verdict(A, B, word(REGISTRY), word(MIRROR)).carried
    stranger = p.verdict(A, B, word(STRANGER), word(BRIDGE_B))
    assert not stranger.carried
    assert stranger.reason == (
        f"sender {STRANGER} on a is not one of this deployment's applications "
        "(delivery policy: deployment)"
    )
    # an app of the deployment writing to something that is not its peer
    astray = p.verdict(A, B, word(BRIDGE_A), word(MIRROR))
    assert not astray.carried and f"recipient {MIRROR} on b" in astray.reason
    # the registry has no route back, and nothing goes to a chain nobody serves
    assert not p.verdict(B, A, word(MIRROR), word(REGISTRY)).carried
    nowhere = p.verdict(A, 999, word(BRIDGE_A), word(BRIDGE_B))
    assert nowhere.reason == "destination 999 is not a chain this relayer serves"


def test_allow_list_adds_routes_and_open_mode_carries_everyone() -> None:
    allowed = policy(
        mode="allow-list", allow=[{"lane": "a->b", "sender": STRANGER, "recipient": BRIDGE_B}]
    )
    assert allowed.verdict(A, B, word(STRANGER), word(BRIDGE_B)).carried
    assert not allowed.verdict(B, A, word(STRANGER), word(BRIDGE_A)).carried
    opened = policy(mode="open")
    assert opened.verdict(A, B, word(STRANGER), word(STRANGER)).carried
    assert not opened.verdict(A, 999, word(STRANGER), word(STRANGER)).carried


def test_open_mode_budget_is_per_sender_and_spares_the_deployment() -> None:
    p = policy(mode="open", open_gas_per_sender_per_hour=1_000_000)
    s, r = word(STRANGER), word(BRIDGE_B)
    assert p.over_budget(A, s, r, B) is None
    p.charge(A, B, s, r, 600_000)
    assert p.over_budget(A, s, r, B) is None
    p.charge(A, B, s, r, 600_000)
    assert p.over_budget(A, s, r, B) is not None
    p.charge(A, B, word(BRIDGE_A), word(BRIDGE_B), 10**9)  # the deployment's own: free
    assert p.over_budget(A, word(BRIDGE_A), word(BRIDGE_B), B) is None


def test_budget_frees_as_the_hour_passes() -> None:
    budget = SenderBudget(1_000)
    budget.charge(A, b"s", 600, now=0.0)
    budget.charge(A, b"s", 600, now=100.0)
    assert budget.free_at(A, b"s", now=200.0) == 3600.0  # when the first spend leaves
    assert budget.free_at(A, b"s", now=3600.0) is None
    assert budget.spent(A, b"s", now=3600.0) == 600


def test_budget_snapshot_keeps_the_hour_across_a_restart() -> None:
    budget = SenderBudget(1_000)
    budget.charge(A, b"s", 600, now=0.0)
    budget.charge(A, b"s", 500, now=100.0)
    budget.charge(B, b"t", 7, now=3000.0)
    assert budget.dirty
    saved = budget.snapshot(now=200.0)
    again = SenderBudget(1_000)
    again.restore(saved, now=200.0)
    assert again.spent(A, b"s", now=200.0) == 1_100
    assert again.free_at(A, b"s", now=200.0) == 3600.0  # over budget, as before the restart
    later = SenderBudget(1_000)
    later.restore(saved, now=3650.0)  # the first charge has left its hour
    assert later.spent(A, b"s", now=3650.0) == 500
    assert later.spent(B, b"t", now=3650.0) == 7
    assert not later.dirty


@pytest.mark.parametrize("text", ["", "{", "[]", '{"version": 2, "spent": []}',
                                  '{"version": 1, "spent": [[1, "zz", [[0, 1]]]]}'])  # fmt: skip
def test_budget_ignores_a_snapshot_it_cannot_read(text: str) -> None:
    budget = SenderBudget(1_000)
    budget.restore(text, now=10.0)
    assert budget.spent(A, b"s", now=10.0) == 0


def test_allow_list_lane_must_name_two_chains() -> None:
    raw = devnet_raw()
    raw["relayer"]["policy"] = {
        "allow": [{"lane": "a->z", "sender": STRANGER, "recipient": STRANGER}]
    }
    with pytest.raises(ConfigError) as info:
        parse_config(raw)
    assert "relayer.policy.allow[0].lane: 'a->z' is not a lane between two of the chains" in str(
        info.value
    )
    raw["relayer"]["policy"] = {
        "allow": [{"lane": "a->b", "sender": "0x12", "recipient": STRANGER}]
    }
    with pytest.raises(ConfigError, match=r"relayer.policy.allow\[0\].sender"):
        parse_config(raw)
    raw["relayer"]["policy"] = {"mode": "everything"}
    with pytest.raises(ConfigError, match=r"relayer\.policy\.mode"):
        parse_config(raw)


@pytest.mark.parametrize(
    ("reason", "name"),
    [
        ("handler reverted: UnknownSender(origin=65001, sender=0x00)", "UnknownSender"),
        ("handler reverted: WrongSender(sender=0x1, expected=0x2)", "WrongSender"),
        ("handler reverted: InvalidRecipient(recipient=0x00)", "InvalidRecipient"),
        ("batch would revert: WrongDestination(destination=7)", "WrongDestination"),
        ("handler reverted: LaneIsPaused(domain=65001)", None),
        ("handler reverted: reverted without a reason", None),
        ("transaction reverted: InsufficientGas(nonce=3, gasLeft=1)", None),
        ("handler reverted: RateLimited(homeToken=0x1, domain=2, ...)", None),
    ],
)
def test_terminal_reverts(reason: str, name: str | None) -> None:
    assert terminal(reason) == name


def test_attempts_are_capped() -> None:
    assert retry_at(0, 12) < NEVER
    assert retry_at(10, 12) < NEVER
    assert retry_at(11, 12) == NEVER
    assert retry_at(0, 12, backoff=False) == 0.0
    reason, when = failure("handler reverted: LaneIsPaused(domain=1)", 11, 12)
    assert when == NEVER
    assert reason.endswith("(attempt 12 of 12: waits for `messages retry`)")


def test_checkpoint_reverts_are_not_bisected() -> None:
    assert batch_wide("BelowThreshold(valid=1, threshold=2)")
    assert batch_wide("InvalidProof()")
    assert not batch_wide("InsufficientGas(nonce=3, gasLeft=1)")
