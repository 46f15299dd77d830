"""The rendered book in a real browser (headless Debian chromium driven by selenium).

Runs when the book has been built (``make book`` -> ``_build/html``) and chromium with its
driver is installed (``apt-get install chromium chromium-driver``; nothing is downloaded at test
time). Otherwise every test here is skipped with the reason. Each page is served over HTTP from
``_build/html`` (``FPKIT_BOOK_HTML`` overrides) and checked: it loads without console errors
(failed loads from CDNs excepted: the machine is offline, so MathJax is not checked), every
image has loaded, no page is wider than a phone's screen, every
internal link points at an existing page and anchor; the search page finds results; a
screenshot of each page at a desktop and a phone width goes to ``_build/screenshots``.
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import shutil
import threading
from pathlib import Path
from urllib.parse import unquote, urljoin, urlparse

import pytest

ROOT = Path(__file__).resolve().parents[1]
HTML = Path(os.environ.get("FPKIT_BOOK_HTML", ROOT / "_build" / "html"))  # override: another build
SHOTS = ROOT / "_build" / "screenshots"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
SIZES = {"desktop": (1366, 900), "phone": (390, 844)}

pytestmark = pytest.mark.xdist_group("browser")


def _pages() -> list[str]:
    if not (HTML / "index.html").exists():
        return []
    skip = {"genindex.html", "search.html"}
    return sorted(str(p.relative_to(HTML)) for p in HTML.rglob("*.html")
                  if not any(part.startswith("_") for part in p.relative_to(HTML).parts) and p.name not in skip)


PAGES = _pages()


def _skip_reason() -> str | None:
    if not PAGES:
        return "the book has not been built (run `make book` first): no _build/html/index.html"
    if CHROMIUM is None or CHROMEDRIVER is None:
        return "no headless browser: install Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (it is in the dev extra)"
    return None


REASON = _skip_reason()


@pytest.fixture(scope="module")
def server():
    if REASON:
        pytest.skip(REASON)
    handler = functools.partial(_QuietHandler, directory=str(HTML))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep pytest's output clean
        pass


@pytest.fixture(scope="module")
def browser(server):
    os.environ.setdefault("SE_OFFLINE", "true")  # selenium manager must not download anything
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def _load(browser, url, size):
    browser.set_window_size(*size)
    browser.get(url)
    browser.get_log("browser")  # drop messages from an earlier page


def _severe(browser, server=""):
    """Console errors, except failed loads of resources from other hosts.

    The test machine is offline: MathJax (and thebe, on demand) come from CDNs, so their loads
    fail here. Everything served by the book itself must load.
    """
    errors = [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    return [m for m in errors
            if not (m.startswith("http") and not m.startswith(server or "http://127.0.0.1")
                    and "Failed to load resource: net::ERR_" in m)
            and "/favicon.ico - Failed to load resource" not in m]  # the browser's own request


@pytest.mark.parametrize("page", PAGES or ["(none)"])
def test_page_loads_cleanly(browser, server, page):
    url = urljoin(server, page)
    browser.set_window_size(*SIZES["desktop"])
    browser.get(url)
    errors = _severe(browser, server)
    assert not errors, f"{page}: console errors {errors}"
    broken = browser.execute_script(
        "return Array.from(document.images).filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src);")
    assert not broken, f"{page}: images that did not load: {broken}"
    n_images = browser.execute_script("return document.images.length;")
    if page.startswith("book/0"):  # every chapter shows figures
        assert n_images > 0, f"{page}: a chapter without a single figure"
    SHOTS.mkdir(parents=True, exist_ok=True)
    stem = page.replace("/", "_").removesuffix(".html")
    for name, size in SIZES.items():
        browser.set_window_size(*size)
        width, inner = browser.execute_script("return [document.documentElement.scrollWidth, window.innerWidth];")
        assert width <= inner, f"{page}: wider than the {name} window ({width} > {inner} px): sideways scrolling"
        height = browser.execute_script("return document.body.scrollHeight;")
        browser.set_window_size(size[0], min(max(height, size[1]), 6000))
        assert browser.save_screenshot(str(SHOTS / f"{stem}-{name}.png"))


@pytest.mark.parametrize("page", PAGES or ["(none)"])
def test_internal_links_resolve(server, page):
    if REASON:
        pytest.skip(REASON)
    text = (HTML / page).read_text(encoding="utf-8")
    base = urljoin(server, page)
    missing = []
    for href in re.findall(r'href="([^"]+)"', text):
        target = urlparse(urljoin(base, href))
        if target.netloc != urlparse(server).netloc or target.scheme not in ("http", "https"):
            continue
        path = HTML / unquote(target.path.lstrip("/"))
        if path.is_dir():
            path = path / "index.html"
        if not path.exists():
            missing.append(href)
            continue
        if target.fragment and path.suffix == ".html":
            body = path.read_text(encoding="utf-8")
            if f'id="{unquote(target.fragment)}"' not in body:
                missing.append(href)
    assert not missing, f"{page}: links to missing pages or anchors: {sorted(set(missing))}"


def test_search_finds_results(browser, server):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    _load(browser, urljoin(server, "search.html?q=attractor"), SIZES["desktop"])
    WebDriverWait(browser, 30).until(
        lambda d: len(d.find_elements(By.CSS_SELECTOR, "#search-results ul.search li")) > 0)
    hits = browser.find_elements(By.CSS_SELECTOR, "#search-results ul.search li")
    assert len(hits) >= 3  # several chapters speak of attractors
    assert not _severe(browser, server)
