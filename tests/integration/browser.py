"""A real browser for the console's tests: Debian's chromium, driven by Selenium.

Selenium's calls block, so tests that serve the console from their own event loop run
them in a thread (``asyncio.to_thread``).
"""

from __future__ import annotations

import contextlib
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1366,900",
]

# how many pixels of a chart's canvas are near a colour (a series' stroke), per canvas
CANVAS_PIXELS_JS = """
const [selector, rgb] = arguments;
return Array.from(document.querySelectorAll(selector)).map((canvas) => {
  const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  let painted = 0, series = 0;
  for (let i = 0; i < data.length; i += 4) {
    if (data[i + 3] === 0) continue;
    painted++;
    const d = Math.abs(data[i] - rgb[0]) + Math.abs(data[i + 1] - rgb[1])
      + Math.abs(data[i + 2] - rgb[2]);
    if (d < 60) series++;
  }
  return [painted, series];
});
"""


def chromium_or_skip() -> tuple[str, str]:
    browser = shutil.which("chromium")
    driver = shutil.which("chromedriver")
    if browser is None or driver is None:
        pytest.skip("chromium and chromedriver are not installed (.ci/run installs them)")
    return browser, driver


@contextlib.contextmanager
def chromium(profile: Path) -> Iterator[Any]:
    """A headless chromium with a fresh profile under ``profile``."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    browser, driver_path = chromium_or_skip()
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=driver_path))
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def wait_until(check: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll ``check`` until it returns something true; AssertionError naming ``what``."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            last = check()
            if last:
                return last
        time.sleep(0.2)
    raise AssertionError(f"{what} not seen in {timeout}s (last: {last!r})")


def page_errors(driver: Any) -> list[str]:
    """The browser console's errors (CSP violations, script errors, failed loads)."""
    return [e["message"] for e in driver.get_log("browser") if e.get("level") == "SEVERE"]


def screenshot(driver: Any, path: Path, height: int = 2200) -> Path:
    """The whole page (up to ``height`` pixels tall) as a PNG."""
    driver.execute_script("window.scrollTo(0, 0)")
    full = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1366, min(max(900, int(full) + 40), height))
    time.sleep(0.3)  # a resize reflows; the charts redraw on the next frame
    driver.save_screenshot(str(path))
    driver.set_window_size(1366, 900)
    return path


def text_of(driver: Any, element_id: str) -> str:
    return str(driver.find_element("id", element_id).text)


def wait_text(driver: Any, element_id: str, needle: str, timeout: float = 60) -> str:
    """Until the element's text contains ``needle``; returns the text."""
    return str(
        wait_until(
            lambda: needle in text_of(driver, element_id) and text_of(driver, element_id),
            timeout,
            f"{needle!r} in #{element_id}",
        )
    )


def wait_loaded(driver: Any, times: int = 1, timeout: float = 120) -> None:
    """Until the page's script finished ``times`` refreshes (``body[data-loaded]``)."""

    def loaded() -> bool:
        value = driver.find_element("tag name", "body").get_attribute("data-loaded")
        return int(value or 0) >= times

    wait_until(loaded, timeout, "the page loaded")


def drawn_charts(driver: Any, color: tuple[int, int, int]) -> list[list[int]]:
    """Until every chart canvas is painted and shows a series in ``color``:
    ``[painted pixels, pixels of the colour]`` per canvas."""

    def pixels() -> list[list[int]] | None:
        found = driver.execute_script(CANVAS_PIXELS_JS, ".chart canvas", list(color))
        return found if found and all(series > 5 for _painted, series in found) else None

    return list(wait_until(pixels, 30, "every chart drawn"))
