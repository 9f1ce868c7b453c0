"""The console in a real browser (Debian's chromium via Selenium), over a real devnet and
relayer: a transfer, a failure and a revocation show on the pages, the charts draw, an
investor id that is HTML shows as text, and actions need the operator's token."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from relayer.chain import contracts
from relayer.console.api import ConsoleApi
from relayer.console.server import ConsoleServer, ConsoleSite
from relayer.deployment.session import Session
from relayer.inputs import parse_investor_id
from relayer.issuer.investors import add_investor, flag_investor
from relayer.store import Status
from tests.integration.browser import (
    chromium,
    chromium_or_skip,
    drawn_charts,
    page_errors,
    screenshot,
    text_of,
    wait_loaded,
    wait_text,
)
from tests.integration.compliance_world import World, make_key
from tests.integration.system import Chains, System, running_relayer, send_many, wait_delivered

pytestmark = [pytest.mark.integration, pytest.mark.browser]

TOKEN = "console-test-token-0123456789"
XSS_ID = "<script>alert(1)</script>"
LANE_COLOR = (0x1F, 0x5F, 0xBF)  # the first lane's stroke (operator.js COLORS[0])
SHOTS = os.environ.get("STBRIDGE_SCREENSHOTS")  # a folder to copy the screenshots to


def _post(url: str, headers: dict[str, str] | None = None) -> int:
    request = urllib.request.Request(url, data=b"", method="POST", headers=headers or {})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - our server
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 - our server
        return json.loads(response.read())


async def _cli(system: System, *args: str) -> Any:
    env = {**os.environ, "STBRIDGE_HOME": str(system.home)}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "relayer", *args, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode == 0, err.decode()
    return json.loads(out)


def _keep(path: Path, name: str) -> None:
    if SHOTS:
        shutil.copy(path, Path(SHOTS) / name)


@pytest.mark.parametrize("system", ["anvil"], indirect=True)
async def test_console_shows_the_system_and_guards_its_actions(
    system: System, tmp_path: Path
) -> None:
    chromium_or_skip()
    accounts = system.config.accounts
    assert accounts.guardian is not None
    chains = Chains(system)
    bridge_b = system.deployment.chain("b").address("TokenBridge")
    bridge_abi = contracts.load("TokenBridge")
    a_id = system.config.chain("a").chain_id
    paused = False
    async with Session(system.config, system.deployment) as session:
        w = World(system, session)
        revoked, tagged = make_key("console-revoked"), make_key("console-xss")
        await w.onboard([revoked])
        now = int(time.time())
        await add_investor(
            session, w.agent, tagged.address, investor_id=parse_investor_id(XSS_ID),
            country=276, expires_at=now + 86400 * 365,
        )  # fmt: skip
        try:
            async with running_relayer(
                system, tmp_path / "r.db", console_token=TOKEN, max_attempts=1
            ) as relay:  # one failed attempt and the message waits for an operator
                assert relay.console_url is not None
                url = relay.console_url.removesuffix("/console/")
                # a transfer, delivered
                investor, other = accounts.investors[0], accounts.investors[1].address
                [good] = await send_many(chains, "a", "b", [(investor, other, 10**18)])
                await wait_delivered(relay.store, [good], 60)
                # and one back: both lanes move
                back_from = accounts.investors[1]
                [back] = await send_many(chains, "b", "a", [(back_from, investor.address, 10**17)])
                await wait_delivered(relay.store, [back], 60)
                # the CLI's --json and the API answer the same object
                config_file = system.config_file(tmp_path / "c.toml", tmp_path / "r.db")
                api_doc = await asyncio.to_thread(_get, f"{url}/api/messages/0x{good.hex()}")
                cli_doc = await _cli(system, "messages", "show", "0x" + good.hex(), "--json",
                                     "-c", str(config_file))  # fmt: skip
                assert cli_doc["data"] == api_doc["data"]
                assert api_doc["data"]["life"][0]["step"] == "dispatched"
                assert api_doc["data"]["life"][-1]["step"] == "delivered"
                # a revocation, carried to the mirror
                await flag_investor(session, w.agent, revoked.address, "revoke")
                # a failure: the guardian pauses the lane on b
                await chains.wallet("b", accounts.guardian).transact(
                    bridge_b, bridge_abi.fn("pauseLane"), a_id
                )
                paused = True
                [bad] = await send_many(chains, "a", "b", [(investor, other, 77)])
                for _ in range(300):
                    row = await relay.store.message(bad)
                    if row is not None and row.status == Status.FAILED:
                        break
                    await asyncio.sleep(0.1)
                assert row is not None and row.status == Status.FAILED, row
                bad_hex = "0x" + bad.hex()

                # the same store, served without a token: no buttons, 403
                bare = ConsoleSite(
                    ConsoleServer(ConsoleApi(relay.config, system.deployment, relay.store,
                                             relayer=relay), None),
                    "127.0.0.1", 0,
                )  # fmt: skip
                bare_url = f"http://127.0.0.1:{await bare.start()}"
                try:
                    seen = await asyncio.to_thread(_read_only, bare_url, bad_hex, tmp_path)
                    assert seen["retry_buttons"] == 0 and seen["token_box_hidden"]
                    assert await asyncio.to_thread(
                        _post, f"{bare_url}/api/messages/{bad_hex}/retry",
                        {"Authorization": f"Bearer {TOKEN}"},
                    ) == 403  # fmt: skip
                finally:
                    await bare.stop()

                # with the token: the operator view, the retry, the issuer view
                await chains.wallet("b", accounts.deployer).transact(
                    bridge_b, bridge_abi.fn("unpauseLane"), a_id
                )
                paused = False
                shots = await asyncio.to_thread(_operator, url, bad_hex, tmp_path)
                await wait_delivered(relay.store, [bad], 60)
                issuer = await asyncio.to_thread(
                    _issuer, url, tagged.address, revoked.address, other, tmp_path
                )
                assert issuer["xss_text"] == [XSS_ID]
                assert issuer["revoked_status"] == "revoked"
                assert shots.exists() and issuer["shot"].exists()
        finally:
            if paused:
                await chains.wallet("b", accounts.deployer).transact(
                    bridge_b, bridge_abi.fn("unpauseLane"), a_id
                )
            await chains.close()


def _read_only(url: str, bad_hex: str, tmp_path: Path) -> dict[str, Any]:
    with chromium(tmp_path / "profile-read-only") as driver:
        driver.get(f"{url}/console/")
        wait_loaded(driver)
        wait_text(driver, "failed", "LaneIsPaused")
        screenshot(driver, tmp_path / "operator-read-only.png")
        return {
            "retry_buttons": len(driver.find_elements("css selector", "button.retry")),
            "token_box_hidden": not driver.find_element("id", "token-box").is_displayed(),
        }


def _operator(url: str, bad_hex: str, tmp_path: Path) -> Path:
    with chromium(tmp_path / "profile-operator") as driver:
        driver.get(f"{url}/console/?refresh=2&window=15m")
        wait_loaded(driver)
        lanes = text_of(driver, "lanes")
        assert "a->b" in lanes and "b->a" in lanes
        # the charts drew: every canvas painted, and the first lane's line is there
        pixels = drawn_charts(driver, LANE_COLOR)
        assert len(pixels) == 3 and all(painted > 1000 for painted, _ in pixels), pixels
        failed = wait_text(driver, "failed", "LaneIsPaused")
        assert "failed" in failed
        # the retry button is there; it needs the token typed in
        button = driver.find_element(
            "css selector", f'button[aria-label="Retry message {bad_hex}"]'
        )
        token = driver.find_element("id", "token")
        token.send_keys(TOKEN)
        token.send_keys("\t")
        button.click()
        wait_text(driver, "action-result", "will be retried", 20)
        # the message's life: dispatch, checkpoint, the attempt that failed
        driver.get(f"{url}/console/?window=15m#{bad_hex}")
        life = wait_text(driver, "life", "attempt", 30)
        assert "dispatched" in life and "checkpoint" in life
        assert not page_errors(driver)
        drawn_charts(driver, LANE_COLOR)
        shot = screenshot(driver, tmp_path / "operator.png")
        _keep(shot, "console-operator.png")
        return shot


def _issuer(url: str, tagged: str, revoked: str, holder: str, tmp_path: Path) -> dict[str, Any]:
    from selenium.common.exceptions import NoAlertPresentException

    with chromium(tmp_path / "profile-issuer") as driver:
        driver.get(f"{url}/console/issuer")
        wait_loaded(driver)
        assert "does NOT" not in wait_text(driver, "reconciled", "reconciled")
        rows = {
            row.find_elements("tag name", "td")[0].text: row
            for row in driver.find_elements("css selector", "#investors tbody tr")
        }
        assert tagged in rows, (list(rows), text_of(driver, "investors")[:500])
        xss_text = [
            span.text for span in rows[tagged].find_elements("css selector", "span.investor-id")
        ]
        injected = driver.execute_script("return document.querySelectorAll('main script').length")
        assert injected == 0
        try:
            driver.switch_to.alert.dismiss()
            alerted = True
        except NoAlertPresentException:
            alerted = False
        assert not alerted, "an investor id ran as a script"
        revoked_status = rows[revoked].find_elements("tag name", "td")[3].text
        rows[holder].find_element("css selector", "button.link").click()
        history = wait_text(driver, "history", "Transfers from or to")
        assert len(driver.find_elements("css selector", "#history tbody tr")) >= 2, history
        assert len(driver.find_elements("css selector", "button.resync")) == len(rows)
        # resync: the tagged investor's record pushed to every mirror again
        rows[tagged].find_element("css selector", "button.resync").click()
        wait_text(driver, "action-result", "enter the operator token first", 20)
        token = driver.find_element("id", "token")
        token.send_keys(TOKEN)
        token.send_keys("\t")
        rows[tagged].find_element("css selector", "button.resync").click()
        wait_text(driver, "action-result", f"record of {tagged} pushed again", 60)
        assert not page_errors(driver)
        shot = screenshot(driver, tmp_path / "issuer.png")
        _keep(shot, "console-issuer.png")
        return {"xss_text": xss_text, "revoked_status": revoked_status, "shot": shot}
