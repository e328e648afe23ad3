"""A real headless Chromium (Debian's `chromium` + `chromium-driver`, installed by `make browser`) driven by
selenium: load a page, report what a reader would see broken — images that did not load, console errors.

PYTEST_DONT_REWRITE
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

# Flags that work in a container without a display, GPU or network, and keep Chromium from phoning home.
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage")
INSTALL_HINT = "`make browser` installs it (apt-get install chromium chromium-driver)"


@dataclass
class PageCheck:
    images: list[dict]  # {"src", "complete", "natural_width"} for every <img>
    console_errors: list[str]  # browser log entries at SEVERE: console.error, uncaught exceptions, failed loads

    @property
    def broken_images(self) -> list[str]:
        return [i["src"] for i in self.images if not (i["complete"] and i["natural_width"] > 0)]


def unavailable() -> str | None:
    """Why the browser check cannot run here, or None when it can."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[dev]')"
    for program in ("chromium", "chromedriver"):
        if shutil.which(program) is None:
            return f"{program} is not installed: {INSTALL_HINT}"
    return None


def check_page(page: Path) -> PageCheck:
    """Open `page` (a local file) in headless Chromium with a new empty profile; wait for its load event."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    with tempfile.TemporaryDirectory(prefix="prefsynth-chromium-") as profile:
        options = webdriver.ChromeOptions()
        options.binary_location = shutil.which("chromium")
        for flag in (*FLAGS, f"--user-data-dir={profile}"):
            options.add_argument(flag)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        driver = webdriver.Chrome(options=options, service=Service(executable_path=shutil.which("chromedriver")))
        try:
            driver.set_page_load_timeout(60)
            driver.get(page.resolve().as_uri())  # returns after the load event: every image loaded or failed
            images = driver.execute_script(
                "return Array.from(document.images).map(i => ({src: i.getAttribute('src'), complete: i.complete,"
                " natural_width: i.naturalWidth}))")
            errors = [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        finally:
            driver.quit()
    return PageCheck(images, errors)
