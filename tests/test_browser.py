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

What a reader would see as broken fails too (issue 24; the recipe is tools/CHAPTER_PATTERN.md):

* a Python or IPython object repr in a page (``<IPython.core.display.Markdown object>``);
* a figure shown below 0.75 of its **physical size** in a 1280 px window. The physical width of
  an image, in CSS px, is its width in pixels times 96 / its resolution in dpi, the resolution
  read from the PNG's ``pHYs`` chunk (``fpkit.plotting.glue_figure`` and ``chapter_setup``
  write 192 dpi images of figures whose physical width is their width in inches times 96). The
  scale shown is the image's rendered width over its physical width; an image without a
  recorded resolution fails. In a converted chapter every image is also a numbered figure whose
  image links to a full-resolution PNG (at least 1.5 times its rendered width);
* a table or a display equation wider than its column at 1280 px or at 390 px (folded cells and
  dropdowns opened);
* a chapter without its ``chapter-answer`` box above its first code cell, without a verdict
  section (``verdict-<stem>``) or without "try it" exercises (an admonition with the class
  ``try-it``, at least two items each naming a parameter of the chapter's ``parameters`` cell);
  an ``fpkit.*`` name in the prose that does not link to the API page; a glossary term whose
  first use in a chapter does not link to the glossary;
* a notebook page without an ``.ipynb`` download (the executed notebook, with outputs);
* a page header without the repository link of ``_config.yml``; an introduction whose claim
  table has a row without a status word of its legend (``fpkit.plotting.CLAIM_STATUSES``), a
  finding of more than 25 words or a link to the chapter's verdict.

Chapters not yet rewritten to the pattern are listed in :data:`NOT_YET_CONVERTED`: the checks
of the list above that concern a chapter's form skip them (the object repr, the download, the
header and the browser checks at the top never do). The lead empties the list chapter by
chapter. In a partial quick build (``tools/build_book.py --quick --pages``) the placeholder
pages are not checked.

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
SIZES = {"desktop": (1280, 900), "phone": (390, 844)}

#: Pages (file stems) not yet rewritten to the chapter pattern (tools/CHAPTER_PATTERN.md): the checks of
#: a chapter's form skip them. Empty this set chapter by chapter; the final state has none.
NOT_YET_CONVERTED: set[str] = set()
#: A figure is shown at no less than this fraction of its physical size in a 1280 px window.
MIN_FIGURE_SCALE = 0.75
#: Words of a finding in the introduction's claim table.
MAX_FINDING_WORDS = 25
#: Glossary terms too common as plain words to require a link at their first use ("a power of x").
COMMON_WORD_TERMS = {"power"}

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


def _placeholders() -> set[str]:
    """The placeholder pages of a partial quick build (tools/build_book.py --quick --pages)."""
    listing = HTML / "_static" / "fpkit-partial-build.json"
    return set(json.loads(listing.read_text())["placeholders"]) if listing.exists() else set()


PAGES = _pages()
PLACEHOLDERS = _placeholders()
#: The pages whose form is checked: not allow-listed, not placeholders.
CONVERTED = [p for p in PAGES if p not in PLACEHOLDERS and Path(p).stem not in NOT_YET_CONVERTED]
#: Chapters (book/0*.html) among them: answer box, verdict, exercises, glossary links.
CONVERTED_CHAPTERS = [p for p in CONVERTED if p.startswith("book/0")]


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
                # scrollbars over the page, as on a phone: a 390 px window has a 358 px text column
                "--hide-scrollbars",
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
    """Open ``url`` at the window ``size``; a redirecting page (index.html) is followed to its target
    before anything is read (on a busy machine a script could otherwise run during the redirect)."""
    from selenium.webdriver.support.ui import WebDriverWait

    browser.set_window_size(*size)
    browser.get(url)
    local = HTML / unquote(urlparse(url).path.lstrip("/"))
    if local.is_file() and 'http-equiv="Refresh"' in local.read_text(encoding="utf-8")[:2000]:
        WebDriverWait(browser, 30).until(lambda d: urlparse(d.current_url).path != urlparse(url).path
                                         and d.execute_script("return document.readyState") == "complete")


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
    if page.startswith("book/0") and page not in PLACEHOLDERS:  # every chapter shows figures
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
        _settle(browser)
        width, inner = browser.execute_script("return [document.documentElement.scrollWidth, window.innerWidth];")
        assert width <= inner, f"{page}: wider than the {name} window ({width} > {inner} px): sideways scrolling"
        height = browser.execute_script("return document.body.scrollHeight;")
        browser.set_window_size(size[0], min(max(height, size[1]), 6000))
        _settle(browser)
        assert browser.save_screenshot(str(SHOTS / f"{stem}-{name}.png"))


def _settle(browser) -> None:
    """Wait for the page's CSS transitions after a resize (the theme slides its sidebar away below
    960 px: a screenshot taken meanwhile shows the text shifted sideways)."""
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(browser, 10).until(lambda d: d.execute_script(
        "return document.getAnimations().every(a => a.playState !== 'running');"))


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


# ------------------------------------------------------------------ what a reader sees as broken

# Per page and window width: the facts the reader checks below assert on (one page load each).
# Folded cells and dropdowns are opened first, so the tables inside them are measured too.
_READER_FACTS = r"""
const done = arguments[arguments.length - 1];
const terms = arguments[0];
// cut by code points (a UTF-16 cut can split MathJax's astral letters, which selenium cannot read)
const cut = (text, n) => Array.from(text).slice(0, n).join('');
const report = () => {
  document.querySelectorAll('details').forEach(d => { d.open = true; });
  const art = document.querySelector('article.bd-article') || document.querySelector('main') || document.body;
  const inner = el => { const cs = getComputedStyle(el);
                        return el.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight); };
  // content images (figures, cell outputs: Sphinx copies them to _images/), not the theme's icons
  const images = Array.from(art.querySelectorAll('img')).filter(i => /\/_images\//.test(i.src)).map(i => {
    const fig = i.closest('figure'); const link = i.closest('a.image-reference');
    return {src: i.currentSrc || i.src, natural: i.naturalWidth, shown: i.getBoundingClientRect().width,
            numbered: !!(fig && fig.querySelector('.caption-number')), link: link ? link.href : null};
  });
  const tables = Array.from(art.querySelectorAll('table')).filter(t => t.offsetParent !== null).map(t => {
    const wrap = t.closest('.pst-scrollable-table-container, .fpkit-table-wrap, div.output, div.cell_output');
    return {text: cut(t.innerText.replace(/\s+/g, ' '), 60), width: t.getBoundingClientRect().width,
            column: inner((wrap || t).parentElement)};
  });
  const equations = Array.from(art.querySelectorAll('mjx-container[display="true"]')).map(c => {
    const m = c.querySelector('mjx-math');
    return {text: cut(c.textContent, 60), width: m ? m.getBoundingClientRect().width : 0, column: inner(c)};
  });
  const answer = art.querySelector('.chapter-answer');
  const firstCell = art.querySelector('div.cell');
  const answerFirst = !!answer && (!firstCell ||
      !!(answer.compareDocumentPosition(firstCell) & Node.DOCUMENT_POSITION_FOLLOWING));
  const paramsCell = art.querySelector('div.cell.tag_parameters pre');
  const tryIt = Array.from(art.querySelectorAll('.admonition.try-it li')).map(
      li => Array.from(li.querySelectorAll('code')).map(c => c.innerText));
  const unlinked = Array.from(art.querySelectorAll('code')).filter(
      c => !c.closest('div.cell, pre, div.highlight, a') && /^fpkit\.[\w.]+(\(\))?$/.test(c.innerText.trim()))
      .map(c => c.innerText.trim());
  // the first use of each glossary term in the prose, and whether it links to the glossary
  // glued text (.pasted-text) cannot carry a link: a term's first use is looked for in the written prose
  const skip = 'PRE,CODE,SCRIPT,STYLE,MJX-CONTAINER,H1,H2,H3,H4,H5,H6,NAV,.cell,.headerlink,.caption-number,.pasted-text';
  const norm = t => t.replace(/[\u2010-\u2015]/g, '-').toLowerCase();
  const firstUse = {};
  const walker = document.createTreeWalker(art, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const el = node.parentElement;
    if (!el || el.closest(skip)) continue;
    const text = norm(node.textContent);
    for (const term of terms) {
      if (term in firstUse) continue;
      const esc = norm(term).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      if (new RegExp('(^|[^\\w-])' + esc + '(s|es)?(?![\\w-])').test(text)) {
        const link = el.closest('a');
        firstUse[term] = {linked: !!(link && /glossary\.html#term-/.test(link.getAttribute('href') || '')),
                          context: cut(node.textContent.trim(), 80)};
      }
    }
  }
  return {images, tables, equations, answer: answer ? answer.innerText : null, answerFirst,
          params: paramsCell ? paramsCell.innerText : '', tryIt, unlinked, firstUse,
          verdictIds: Array.from(art.querySelectorAll('[id^="verdict-"]')).map(e => e.id),
          ipynb: Array.from(document.querySelectorAll('a[href$=".ipynb"]')).map(a => a.getAttribute('href')),
          header: Array.from(document.querySelectorAll('.bd-header-article a, .article-header-buttons a'))
                  .map(a => a.getAttribute('href'))};
};
if (window.MathJax && window.MathJax.startup && window.MathJax.startup.promise) {
  window.MathJax.startup.promise.then(() => done(JSON.stringify(report())),
                                      e => done(JSON.stringify({failed: String(e)})));
} else {
  done(JSON.stringify(report()));
}
"""

_FACTS: dict[tuple[str, str], dict] = {}


def _glossary_terms() -> list[str]:
    glossary = HTML / "book" / "glossary.html"
    if not glossary.exists():
        return []
    import html as html_module

    terms = re.findall(r'<dt id="term-[^"]*">(.*?)<a class="headerlink"', glossary.read_text(encoding="utf-8"),
                       flags=re.S)
    return [html_module.unescape(re.sub(r"<[^>]+>", "", t)).strip() for t in terms]


def _facts(browser, server, page: str, size: str) -> dict:
    """What a reader sees of ``page`` at the window width ``size`` (cached: one load per page and size)."""
    key = (page, size)
    if key not in _FACTS:
        _load(browser, urljoin(server, page), SIZES[size])
        terms = [t for t in _glossary_terms() if t.lower() not in COMMON_WORD_TERMS]
        facts = json.loads(browser.execute_async_script(_READER_FACTS, terms))
        assert "failed" not in facts, f"{page}: MathJax failed: {facts.get('failed')}"
        _FACTS[key] = facts
    return _FACTS[key]


def _png_dpi(path: Path) -> float | None:
    """The horizontal resolution (dpi) recorded in a PNG's pHYs chunk, None without one."""
    from PIL import Image

    with Image.open(path) as image:
        dpi = image.info.get("dpi")
    return float(dpi[0]) if dpi and dpi[0] else None


def _local_file(server: str, url: str) -> Path:
    return HTML / unquote(urlparse(url).path.lstrip("/"))


@pytest.mark.parametrize("page", CONVERTED or ["(none)"])
def test_figures_are_shown_at_their_physical_size(browser, server, page):
    """Every image at >= 0.75 of its physical width (pixels x 96 / its dpi) in a 1280 px window;
    in a converted page each is a numbered figure linking to its full-resolution image."""
    _require_book_and_browser()
    facts = _facts(browser, server, page, "desktop")
    small, unnumbered, no_zoom = [], [], []
    for image in facts["images"]:
        path = _local_file(server, image["src"])
        dpi = _png_dpi(path) if path.suffix == ".png" and path.exists() else None
        if dpi is None:
            small.append(f"{path.name}: no resolution recorded (not a PNG of fpkit.plotting)")
            continue
        physical = image["natural"] * 96 / dpi
        if image["shown"] < MIN_FIGURE_SCALE * physical - 0.5:
            small.append(f"{path.name}: shown {image['shown']:.0f} px of {physical:.0f} px "
                         f"(scale {image['shown'] / physical:.2f})")
        if not image["numbered"]:
            unnumbered.append(path.name)
        if not image["link"] or not _local_file(server, image["link"]).exists():
            no_zoom.append(path.name)
        else:
            from PIL import Image

            with Image.open(_local_file(server, image["link"])) as full:
                if full.width < 1.5 * image["shown"]:
                    no_zoom.append(f"{path.name} (linked image {full.width} px for {image['shown']:.0f} px shown)")
    assert not small, f"{page}: figures shown below {MIN_FIGURE_SCALE} of their physical size: {small}"
    assert not unnumbered, f"{page}: figures without a numbered caption ({{glue:figure}} with :name:): {unnumbered}"
    assert not no_zoom, f"{page}: figures that do not open a full-resolution image on click: {no_zoom}"


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("page", CONVERTED or ["(none)"])
def test_tables_and_equations_fit_their_column(browser, server, page, size):
    _require_book_and_browser()
    facts = _facts(browser, server, page, size)
    wide = [f"table '{t['text']}': {t['width']:.0f} > {t['column']:.0f} px" for t in facts["tables"]
            if t["width"] > t["column"] + 1]
    wide += [f"equation '{e['text']}': {e['width']:.0f} > {e['column']:.0f} px" for e in facts["equations"]
             if e["width"] > e["column"] + 1]
    assert not wide, f"{page} at {SIZES[size][0]} px: wider than their column: {wide}"


@pytest.mark.parametrize("page", CONVERTED_CHAPTERS or ["(none)"])
def test_chapter_opens_with_its_answer_and_ends_with_verdict_and_exercises(browser, server, page):
    _require_book_and_browser()
    facts = _facts(browser, server, page, "desktop")
    assert facts["answer"] is not None, f"{page}: no answer box (an admonition with :class: chapter-answer)"
    assert facts["answerFirst"], f"{page}: the chapter-answer box is not above the first code cell"
    missing = [part for part in ("Claim", "Finding", "How sure", "Regime", "Status") if part not in facts["answer"]]
    assert not missing, f"{page}: the answer box lacks {missing}"
    stem = Path(page).stem
    assert f"verdict-{stem}".replace("_", "-") in facts["verdictIds"], \
        f"{page}: no verdict section labelled (verdict-{stem})= (found {facts['verdictIds']})"
    parameters = set(re.findall(r"^(\w+)\s*=", facts["params"], flags=re.M))
    assert parameters, f"{page}: no parameters cell"
    naming = [item for item in facts["tryIt"] if any(code.split("=")[0].strip() in parameters for code in item)]
    assert len(naming) >= 2, (f"{page}: 'try it' exercises (admonition :class: try-it) must be at least two list "
                              f"items naming a parameter of {sorted(parameters)}; found {facts['tryIt']}")


@pytest.mark.parametrize("page", [p for p in CONVERTED if p != "book/api.html"] or ["(none)"])
def test_fpkit_names_in_the_prose_link_to_the_api(browser, server, page):
    _require_book_and_browser()
    unlinked = _facts(browser, server, page, "desktop")["unlinked"]
    assert not unlinked, f"{page}: fpkit names in the prose without a link to the API page ({{py:func}}): {unlinked}"


@pytest.mark.parametrize("page", CONVERTED_CHAPTERS or ["(none)"])
def test_glossary_terms_link_where_first_used(browser, server, page):
    _require_book_and_browser()
    first_use = _facts(browser, server, page, "desktop")["firstUse"]
    unlinked = [f"{term!r} in '{use['context']}'" for term, use in first_use.items() if not use["linked"]]
    assert not unlinked, f"{page}: glossary terms not linked ({{term}}) where first used: {unlinked}"


@pytest.mark.parametrize("page", [p for p in PAGES if p not in PLACEHOLDERS] or ["(none)"])
def test_notebook_pages_offer_the_executed_notebook(browser, server, page):
    _require_book_and_browser()
    text = (HTML / page).read_text(encoding="utf-8")
    if 'class="cell' not in text:
        return  # not a notebook page
    links = _facts(browser, server, page, "desktop")["ipynb"]
    assert links, f"{page}: no .ipynb download in the page header"
    notebook = _local_file(server, urljoin(urljoin(server, page), links[0]))
    assert notebook.exists(), f"{page}: the .ipynb download {links[0]} does not exist"
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    assert any(c["cell_type"] == "code" and c.get("outputs") for c in cells), \
        f"{page}: the downloadable notebook {links[0]} has no outputs (not the executed one)"


def test_header_links_to_the_repository(browser, server):
    import yaml

    _require_book_and_browser()
    url = (yaml.safe_load((ROOT / "_config.yml").read_text()).get("repository") or {}).get("url")
    assert url, "_config.yml has no repository: url: (the header's link to the code)"
    page = "book/intro.html" if "book/intro.html" in PAGES else PAGES[0]
    assert url in _facts(browser, server, page, "desktop")["header"], f"{page}: no link to {url} in the header"


def test_claim_table_gives_a_status_word_and_a_short_finding_per_claim(browser, server):
    """The introduction's claim table: the legend lists the status words; each converted chapter's
    row has one of them, a finding of at most 25 words and a link to the chapter's verdict."""
    import html as html_module

    from fpkit.plotting import CLAIM_STATUSES

    _require_book_and_browser()
    text = (HTML / "book" / "intro.html").read_text(encoding="utf-8")
    legend = {html_module.unescape(w).strip() for w in re.findall(r"<dt>(.*?)</dt>", text, flags=re.S)}
    assert set(CLAIM_STATUSES) <= legend, f"intro: the legend lacks {set(CLAIM_STATUSES) - legend}"
    table = re.search(r'<table class="[^"]*claim-table.*?</table>', text, flags=re.S)
    assert table, "intro: no claim table (a list-table with :class: claim-table)"
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", table.group(0).split("<tbody>")[1], flags=re.S)
    checked = 0
    for row in rows:
        cells = re.findall(r"<td[^>]*>(.*?)</td>", row, flags=re.S)
        assert len(cells) == 3, f"intro: a claim row without claim, status and finding: {row[:200]}"
        stem = re.search(r'href="([\w.]+)\.html', cells[2])
        assert stem, f"intro: a claim row without a link to its chapter: {cells[2][:200]}"
        if stem.group(1) in NOT_YET_CONVERTED or f"book/{stem.group(1)}.html" in PLACEHOLDERS:
            continue
        plain = lambda cell: html_module.unescape(re.sub(r"<[^>]+>", " ", cell)).split()  # noqa: E731
        status = " ".join(plain(cells[1]))
        assert status in CLAIM_STATUSES, f"intro, {stem.group(1)}: status {status!r} is not a word of the legend"
        finding = plain(re.sub(r"<a .*?</a>", "", cells[2], flags=re.S))
        assert 0 < len(finding) <= MAX_FINDING_WORDS, \
            f"intro, {stem.group(1)}: the finding has {len(finding)} words (1 to {MAX_FINDING_WORDS})"
        assert f'{stem.group(1)}.html#verdict-' in cells[2], f"intro, {stem.group(1)}: no link to the chapter's verdict"
        checked += 1
    assert checked, "intro: no converted chapter's row was checked"


def test_every_page_was_checked():
    """Runs last in this module: every page went through the browser, and the book has formulas."""
    _require_book_and_browser()
    assert sorted(RESULTS) == PAGES, f"pages not checked in the browser: {sorted(set(PAGES) - set(RESULTS))}"
    assert sum(r["formulas"] for r in RESULTS.values()) > 0
