"""Headless Chromium for the local runs (local/screenshot.py, tests/e2e/test_browser.py): Debian's
`chromium` driven through Debian's `chromedriver` by Selenium WebDriver (requirements-dev.txt).

    driver, profile = start_browser(run_dir)
    try:
        driver.get(url)
    finally:
        stop_browser(driver, profile)

Both executables are looked up on PATH and handed to Selenium, so Selenium Manager never looks
for (or downloads) a driver or a browser. `make test` / `make screenshots` install them when
missing (apt-get install chromium chromium-driver); without them start_browser raises
BrowserMissing with that advice.
"""

from __future__ import annotations

import base64
import os
import shutil
import signal
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness.processes import PortReservation, alive, descendants  # noqa: E402

# The flags this machine needs (no network but the loopback; root), and no scrollbars in shots.
CHROMIUM_FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--hide-scrollbars",
                  "--mute-audio"]
INSTALL_HINT = ("apt-get install -y --no-install-recommends chromium chromium-driver "
                "(make test and make screenshots do this themselves)")


class BrowserMissing(RuntimeError):
    """chromium, chromedriver or Selenium is not installed."""


def find_browser() -> tuple[str, str]:
    """(chromedriver, chromium) paths; BrowserMissing naming what is missing."""
    driver_exe = shutil.which("chromedriver")
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    missing = [name for name, path in (("chromium", browser), ("chromedriver", driver_exe))
               if not path]
    if missing:
        raise BrowserMissing(f"{' and '.join(missing)} not installed (not on PATH): {INSTALL_HINT}")
    return driver_exe, browser


def click_and_wait(driver, button, timeout: float = 60):
    """Clicks a submit button and waits for the page it leads to (the old one gone, the new one
    loaded); on a timeout the caller's checks say what the page is."""
    from selenium.common.exceptions import (StaleElementReferenceException, TimeoutException,
                                            WebDriverException)
    from selenium.webdriver.support.ui import WebDriverWait

    def gone(_) -> bool:
        """The button's page has gone. Mid-navigation ChromeDriver may say so as "Node with
        given id does not belong to the document" rather than as a stale element."""
        try:
            button.is_enabled()
            return False
        except StaleElementReferenceException:
            return True
        except WebDriverException as e:
            if "does not belong to the document" in str(e):
                return True
            raise

    button.click()
    try:
        WebDriverWait(driver, timeout).until(gone)
        WebDriverWait(driver, 10, ignored_exceptions=(WebDriverException,)).until(
            lambda d: d.execute_script("return document.readyState") == "complete")
    except TimeoutException:
        pass


def start_browser(run_dir: Path, log_name: str = "chromedriver.log", say=print):
    """Debian's headless Chromium through Debian's ChromeDriver, with a new, empty profile in
    run_dir; ChromeDriver logs to run_dir/log_name. Returns (driver, profile directory)."""
    driver_exe, browser = find_browser()
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.options import Options
        from selenium.webdriver.chrome.service import Service
    except ImportError as e:
        raise BrowserMissing(f"Selenium is not installed in this Python ({e}): "
                             "pip install -r requirements-dev.txt") from None
    profile = run_dir / f"chromium-profile-{uuid.uuid4().hex[:8]}"  # new and empty
    profile.mkdir(parents=True)
    options = Options()
    options.binary_location = browser
    for flag in [*CHROMIUM_FLAGS, f"--user-data-dir={profile}"]:
        options.add_argument(flag)
    # Selenium would pick ChromeDriver's port by binding a free one and closing it, which lets
    # another process take it before ChromeDriver listens (then ChromeDriver exits, or Selenium
    # talks to that process). The port stays reserved until the session is up instead, as the
    # harness's servers' ports are: ChromeDriver's listener, like theirs, sets SO_REUSEADDR.
    reserved = PortReservation(1)
    service = Service(executable_path=driver_exe, port=reserved.ports[0],
                      log_output=str(run_dir / log_name))
    try:
        driver = webdriver.Chrome(service=service, options=options)
    except BaseException:
        shutil.rmtree(profile, ignore_errors=True)
        raise
    finally:
        reserved.release()
    driver.set_page_load_timeout(60)
    say(f"started {driver.capabilities.get('browserName')} "
        f"{driver.capabilities.get('browserVersion')} via chromedriver (pid {service.process.pid})")
    return driver, profile


def stop_browser(driver, profile: Path, say=print) -> list[int]:
    """quit() ends chromium and chromedriver; whatever of the two it leaves is killed. Returns
    the pids that had to be killed."""
    pid = driver.service.process.pid
    tree = [pid, *descendants(pid)]
    left: list[int] = []
    try:
        driver.quit()
    finally:
        left = [p for p in tree if alive(p)]
        for p in left:
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
        say("stopped chromium" + (f" (had to kill {left})" if left else ""))
        shutil.rmtree(profile, ignore_errors=True)
    return left


def still_running(pids: list[int]) -> list[int]:
    """Which of these pids are alive (not zombies)."""
    return [p for p in pids if alive(p)]


def capture(driver, path: Path, width: int = 1280, min_height: int = 0) -> tuple[int, int]:
    """The whole page as a PNG at `path`, `width` CSS px wide and as tall as its content (the
    viewport is resized to the content through DevTools, then put back). Returns the CSS px
    size captured."""
    height = 100
    try:
        for _ in range(2):  # a taller viewport can reflow: measure again
            driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
                "width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
            time.sleep(0.2)
            m = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})
            height = max(int(m.get("cssContentSize", m.get("contentSize"))["height"] + 0.999),
                         min_height)
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
            "width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
        shot = driver.execute_cdp_cmd("Page.captureScreenshot", {"format": "png"})
        path.write_bytes(base64.b64decode(shot["data"]))
    finally:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    return width, height
