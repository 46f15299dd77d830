"""The rendered book in a real browser, offline (headless Debian chromium driven by selenium).

Which book: ``FPKIT_BOOK_HTML`` when set (``make test`` sets it to the quick book it builds from
the notebooks the chapter tests executed, ``_build/quick-book/_build/html``); otherwise the full
build ``_build/html`` of ``make book``. Each page is served over HTTP from that folder and opened
with every request to another host blocked (the browser's only proxy is a closed local port, and
loopback bypasses it), and the browser's network log is read back. Checked on every page:

* nothing breaks: no console error, every image loads, no page is wider than a phone's screen,
  every internal link points at an existing page and anchor, the search page finds results;
* the page requested nothing from another host (so no CDN), and its HTML loads no script,
  stylesheet or font from one;
* every formula is typeset by MathJax, which the book serves itself (``_static/mathjax``): each
  math element of the HTML holds a typeset ``mjx-container`` and no TeX source, no MathJax error
  node or undefined macro appears, and no text outside code still carries TeX delimiters
  (``$...$``, ``\\(``, ``\\[``) or TeX commands;
* no thebe or launch button (live code needs Binder, hence a network: the book has none).

A screenshot of each page at a desktop and a phone width goes to ``_build/screenshots``, and the
number of pages and typeset formulas is printed at the end of the run.

Missing browser: chromium and chromium-driver are Debian packages (``apt-get install chromium
chromium-driver``; ``.ci/run`` installs them). Without them every test here **fails**, unless
``FPKIT_ALLOW_NO_BROWSER=1`` is set, which turns the failures into skips (for a developer's
machine without chromium; CI never sets it). Without a built book (no ``FPKIT_BOOK_HTML`` and
no ``_build/html``) the tests are skipped: ``make test`` always builds one first.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import re
import shutil
import socket
import threading
from pathlib import Path
from urllib.parse import unquote, urljoin, urlparse

import pytest

ROOT = Path(__file__).resolve().parents[1]
REQUESTED_HTML = os.environ.get("FPKIT_BOOK_HTML")
HTML = Path(REQUESTED_HTML) if REQUESTED_HTML else ROOT / "_build" / "html"
SHOTS = ROOT / "_build" / "screenshots"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
ALLOW_NO_BROWSER = os.environ.get("FPKIT_ALLOW_NO_BROWSER", "") not in ("", "0")
SIZES = {"desktop": (1366, 900), "phone": (390, 844)}

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

#: Per page: formulas typeset, requests made (filled by test_page_in_browser, printed at the end
#: of the run by tests/conftest.py).
RESULTS: dict[str, dict] = {}


def _pages() -> list[str]:
    if not (HTML / "index.html").exists():
        return []
    skip = {"genindex.html", "search.html"}
    return sorted(str(p.relative_to(HTML)) for p in HTML.rglob("*.html")
                  if not any(part.startswith("_") for part in p.relative_to(HTML).parts) and p.name not in skip)


PAGES = _pages()


def _missing_browser() -> str | None:
    if CHROMIUM is None or CHROMEDRIVER is None:
        return ("no headless browser: install Debian's chromium and chromium-driver "
                "(apt-get install chromium chromium-driver)")
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (it is in the dev extra)"
    return None


def _require_book_and_browser() -> None:
    """Fail (or skip where allowed) when the book or the browser is missing."""
    if not PAGES:
        if REQUESTED_HTML:
            pytest.fail(f"FPKIT_BOOK_HTML={REQUESTED_HTML} holds no built book (no index.html)")
        pytest.skip("no built book: `make test` builds the quick book and runs these tests on it; "
                    "`make book` builds the full one into _build/html")
    why = _missing_browser()
    if why:
        if ALLOW_NO_BROWSER:
            pytest.skip(f"{why} (skipped because FPKIT_ALLOW_NO_BROWSER is set)")
        pytest.fail(f"{why}; set FPKIT_ALLOW_NO_BROWSER=1 to skip the browser tests instead")


@pytest.fixture(scope="module")
def server():
    _require_book_and_browser()
    handler = functools.partial(_QuietHandler, directory=str(HTML))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep pytest's output clean
        pass


def _closed_local_port() -> int:
    """A loopback port nobody listens on: the browser's proxy, so off-host requests fail at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def browser(server):
    os.environ.setdefault("SE_OFFLINE", "true")  # selenium manager must not download anything
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                # Every request to another host goes to a proxy that does not exist and fails;
                # loopback (the book's server) bypasses proxies. Nothing leaves the machine.
                f"--proxy-server=http://127.0.0.1:{_closed_local_port()}",
                # the browser's own background traffic (updates, sync), not the pages'
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--no-first-run", "--disable-default-apps"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    driver.set_page_load_timeout(60)
    driver.set_script_timeout(60)
    yield driver
    driver.quit()


def _load(browser, url, size):
    browser.set_window_size(*size)
    browser.get(url)


def _drain(browser) -> None:
    """Forget console messages and network events of earlier pages."""
    browser.get_log("browser")
    browser.get_log("performance")


def _console_errors(browser) -> list[str]:
    errors = [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    return [m for m in errors if "/favicon.ico - Failed to load resource" not in m]  # the browser's own request


def _requested_urls(browser) -> list[str]:
    """Every URL the page asked for (the DevTools network log: Network.requestWillBeSent)."""
    urls = []
    for entry in browser.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message.get("method") == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def _off_host(urls: list[str], server: str) -> list[str]:
    host = urlparse(server).netloc
    return sorted({u for u in urls if urlparse(u).scheme in ("http", "https", "ws", "wss")
                   and urlparse(u).netloc != host})


# MathJax 3 typesets into <mjx-container>; this waits for its first typesetting pass and reads
# back, per math element of the HTML, whether it holds a typeset formula and nothing else.
_MATH_REPORT = r"""
const done = arguments[arguments.length - 1];
const report = () => {
  const math = Array.from(document.querySelectorAll('.math'));
  const untypeset = math.filter(el => el.querySelector('mjx-container') === null)
                        .map(el => el.textContent.trim().slice(0, 80));
  const leftover = math.filter(el => {
      const clone = el.cloneNode(true);
      clone.querySelectorAll('mjx-container').forEach(c => c.remove());
      return clone.textContent.trim() !== '';
  }).map(el => el.textContent.trim().slice(0, 80));
  // a TeX error becomes an merror node; with the noundefined extension an unknown macro is
  // shown as its name in red. Reported by the formula's TeX source (MathJax's math items).
  const errorSel = 'mjx-merror, [data-mjx-error]';
  const redSel = '[style*="color: red"], [style*="color:red"]';
  const items = (window.MathJax && MathJax.startup && MathJax.startup.document)
                ? Array.from(MathJax.startup.document.math) : [];
  const tex = item => String(item.math).slice(0, 80);
  const errors = items.filter(i => i.typesetRoot && i.typesetRoot.querySelector(errorSel)).map(tex);
  const undefinedMacros = items.filter(i => i.typesetRoot && i.typesetRoot.querySelector(redSel)).map(tex);
  const withErrors = Array.from(document.querySelectorAll('mjx-container')).filter(c => c.querySelector(errorSel));
  if (withErrors.length > errors.length) errors.push('(a formula MathJax does not list)');
  // text outside math and code that still looks like TeX
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const skip = 'SCRIPT,STYLE,PRE,CODE,TEXTAREA,MJX-CONTAINER,MJX-ASSISTIVE-MML';
  const texLike = /\$[^$\s][^$]*\$|\\\(|\\\)|\\\[|\\\]|\\begin\{|\\(?:frac|mathbb|mathcal|operatorname|alpha|sigma|rho|kappa|lambda|phi|sum|prod|sqrt|le|ge)\b/;
  const raw = [];
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    if (node.parentElement && node.parentElement.closest(skip)) continue;
    if (texLike.test(node.textContent)) raw.push(node.textContent.trim().slice(0, 80));
  }
  return {mathjax: typeof window.MathJax === 'object' && !!window.MathJax.startup,
          math_elements: math.length,
          typeset: document.querySelectorAll('mjx-container').length,
          untypeset, leftover, errors, undefinedMacros, raw};
};
if (window.MathJax && window.MathJax.startup && window.MathJax.startup.promise) {
  window.MathJax.startup.promise.then(() => done(report()), e => done({failed: String(e)}));
} else {
  done(report());
}
"""


@pytest.mark.parametrize("page", PAGES or ["(none)"])
def test_page_in_browser(browser, server, page):
    url = urljoin(server, page)
    _drain(browser)
    _load(browser, url, SIZES["desktop"])
    math = browser.execute_async_script(_MATH_REPORT)
    assert "failed" not in math, f"{page}: MathJax failed: {math.get('failed')}"
    errors = _console_errors(browser)
    assert not errors, f"{page}: console errors {errors}"
    requested = _requested_urls(browser)
    off_host = _off_host(requested, server)
    assert not off_host, f"{page}: requests to other hosts (CDN?): {off_host}"
    broken = browser.execute_script(
        "return Array.from(document.images).filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src);")
    assert not broken, f"{page}: images that did not load: {broken}"
    n_images = browser.execute_script("return document.images.length;")
    if page.startswith("book/0"):  # every chapter shows figures
        assert n_images > 0, f"{page}: a chapter without a single figure"

    # every formula typeset, nothing left as TeX
    assert not math["untypeset"], f"{page}: formulas MathJax did not typeset: {math['untypeset'][:5]}"
    assert not math["leftover"], f"{page}: TeX source left beside typeset formulas: {math['leftover'][:5]}"
    assert not math["errors"], f"{page}: MathJax errors: {math['errors'][:5]}"
    assert not math["undefinedMacros"], f"{page}: undefined TeX macros: {math['undefinedMacros'][:5]}"
    assert not math["raw"], f"{page}: TeX outside math (not typeset): {math['raw'][:5]}"
    assert math["typeset"] >= math["math_elements"]
    shown = unquote(urlparse(browser.current_url).path.lstrip("/")) or "index.html"  # after redirects
    static = (HTML / shown).read_text(encoding="utf-8").count('class="math notranslate nohighlight"')
    assert math["math_elements"] == static, f"{page}: {static} formulas in the HTML, {math['math_elements']} in the page"
    if static:
        assert math["mathjax"], f"{page}: has formulas but MathJax did not start"

    # live-code and launch buttons need a network; the book has none
    buttons = browser.execute_script(
        "return document.querySelectorAll('.thebe-launch-button, .dropdown-launch-buttons, "
        "[data-bs-target*=launch], script[type=\"text/x-thebe-config\"]').length;")
    assert buttons == 0, f"{page}: thebe or launch buttons, which cannot work offline"
    RESULTS[page] = {"shown": shown, "formulas": math["typeset"], "requests": len(requested),
                     "off_host": len(off_host)}

    SHOTS.mkdir(parents=True, exist_ok=True)
    stem = page.replace("/", "_").removesuffix(".html")
    for name, size in SIZES.items():
        browser.set_window_size(*size)
        width, inner = browser.execute_script("return [document.documentElement.scrollWidth, window.innerWidth];")
        assert width <= inner, f"{page}: wider than the {name} window ({width} > {inner} px): sideways scrolling"
        height = browser.execute_script("return document.body.scrollHeight;")
        browser.set_window_size(size[0], min(max(height, size[1]), 6000))
        assert browser.save_screenshot(str(SHOTS / f"{stem}-{name}.png"))


_EXTERNAL_ASSET = re.compile(
    r'<(?:script|img|iframe)[^>]*\ssrc="(?:https?:)?//[^"]+"|<link[^>]*\shref="(?:https?:)?//[^"]+"[^>]*>|'
    r'url\(["\']?(?:https?:)?//')


@pytest.mark.parametrize("page", PAGES or ["(none)"])
def test_page_loads_nothing_from_other_hosts(page):
    _require_book_and_browser()
    text = (HTML / page).read_text(encoding="utf-8")
    found = [m.group(0)[:120] for m in _EXTERNAL_ASSET.finditer(text)]
    found = [f for f in found if 'rel="canonical"' not in f]
    assert not found, f"{page}: loads assets from other hosts: {found}"
    assert "_static/mathjax/" in text or 'class="math' not in text, f"{page}: MathJax not served by the book"


#: A Python or IPython object's repr as it lands in a page: ``<IPython.core.display.Markdown object>``,
#: ``<matplotlib.figure.Figure at 0x...>``, ``<function f at 0x...>``, escaped by Sphinx or not.
_OBJECT_REPR = re.compile(r"(?:<|&lt;)[A-Za-z_][\w.]*(?: [\w.]+)? (?:object|at 0x)[^>&]*(?:>|&gt;)"
                          r"|(?:<|&lt;)IPython\.[\w.]+|(?:<|&lt;)Figure size \d+x\d+")


@pytest.mark.parametrize("page", PAGES or ["(none)"])
def test_page_shows_no_object_repr(page):
    """A glued value or an output that prints as its object's repr is a broken sentence or cell."""
    _require_book_and_browser()
    text = (HTML / page).read_text(encoding="utf-8")
    found = sorted({m.group(0)[:100] for m in _OBJECT_REPR.finditer(text)})
    assert not found, f"{page}: Python object reprs in the page: {found}"


@pytest.mark.parametrize("page", PAGES or ["(none)"])
def test_internal_links_resolve(server, page):
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

    _drain(browser)
    _load(browser, urljoin(server, "search.html?q=attractor"), SIZES["desktop"])
    WebDriverWait(browser, 30).until(
        lambda d: len(d.find_elements(By.CSS_SELECTOR, "#search-results ul.search li")) > 0)
    hits = browser.find_elements(By.CSS_SELECTOR, "#search-results ul.search li")
    assert len(hits) >= 3  # several chapters speak of attractors
    assert not _console_errors(browser)
    assert not _off_host(_requested_urls(browser), server)


def test_blocking_is_in_force(browser, server):
    """The check above would be void if off-host requests could succeed: one must fail here."""
    _drain(browser)
    _load(browser, server, SIZES["desktop"])
    outcome = browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "fetch('http://example.invalid/x.js').then(() => done('loaded'), () => done('blocked'));")
    assert outcome == "blocked"
    assert "http://example.invalid/x.js" in _off_host(_requested_urls(browser), server)
    _drain(browser)


def test_every_page_was_checked():
    """Runs last in this module: every page went through the browser, and the book has formulas."""
    _require_book_and_browser()
    assert sorted(RESULTS) == PAGES, f"pages not checked in the browser: {sorted(set(PAGES) - set(RESULTS))}"
    assert sum(r["formulas"] for r in RESULTS.values()) > 0
