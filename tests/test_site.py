"""The published site is self-contained: every page loads, every image shows, every link resolves."""

import functools
import os
import re
import shutil
import threading
from contextlib import contextmanager
from html.parser import HTMLParser
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from kuntalib import paths
from kuntalib.cli import build

pytestmark = pytest.mark.slow

FIGURE_WORD = {"fi": "Kuva", "sv": "Figur", "en": "Figure"}


class PageParts(HTMLParser):
    """What a page links to, its images (alt text and the ``<figure>`` each is in) and its figure captions."""

    def __init__(self) -> None:
        super().__init__()
        self.lang, self.links, self.images, self.captions, self.rel = "", [], [], [], {}
        self._figure = self._caption = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.lang = a.get("lang", self.lang) if tag == "html" else self.lang
        self.links += [a[k] for k in ("href", "src") if a.get(k)]
        if tag == "figure":
            self._figure = len(self.captions)
            self.captions.append("")
        elif tag == "figcaption" and self._figure is not None:
            self._caption = self._figure
        elif tag == "img":
            self.images.append((a.get("alt") or "", self._figure))
        elif tag == "a" and a.get("rel") in ("prev", "next"):
            self.rel[a["rel"]] = a["href"]

    def handle_endtag(self, tag):
        if tag == "figure":
            self._figure = None
        elif tag == "figcaption":
            self._caption = None

    def handle_data(self, data):
        if self._caption is not None:
            self.captions[self._caption] += data


def check_site(site: Path) -> dict[Path, PageParts]:
    """Every page of ``site``: each image inside a ``<figure>`` whose caption starts "Kuva 1.", "Kuva 2.", ...
    in page order (sv "Figur", en "Figure"), and every relative link and source a file of the site. Returns the pages' parts."""
    pages = {}
    for page in sorted(site.rglob("*.html")):
        parts = pages[page] = PageParts()
        parts.feed(page.read_text(encoding="utf-8"))
        assert all(fig is not None for _, fig in parts.images), f"{page}: an image outside a <figure>"
        word = FIGURE_WORD[parts.lang]
        assert [c.split(".")[0].strip() for c in parts.captions] == [f"{word} {n}" for n in range(1, len(parts.captions) + 1)], \
            f"{page}: figure captions not numbered 1, 2, ... in order: {[c[:20] for c in parts.captions]}"
        assert sorted({fig for _, fig in parts.images}) == list(range(len(parts.captions))), f"{page}: a figure without its one image"
        for link in parts.links:
            if not link.startswith(("#", "data:", "http:", "https:", "mailto:")):
                target = (page.parent / link.split("#")[0]).resolve()
                assert target.is_file() and target.is_relative_to(site.resolve()), f"{page}: {link} is not a file of the site"
    return pages


@pytest.fixture
def site(project) -> Path:
    assert build(langs=("fi", "sv", "en"), progress=False) == 0
    return paths.site_dir()


def test_pages_reference_no_other_host(site):
    pages = sorted(site.rglob("*.html"))
    assert len(pages) == 1 + 3 + 3 * 2
    for page in pages:
        html = page.read_text(encoding="utf-8")
        for tag, attr in re.findall(r"<(script|link|img|iframe)\b[^>]*?\b(?:src|href)=\"([^\"]*)\"", html):
            assert not attr.startswith(("http:", "https:", "//")), f"{page}: {tag} loads {attr}"
    parts = check_site(site)
    for lang in ("fi", "sv", "en"):
        page = parts[site / lang / "a_plot.html"]
        assert [c.strip() for c in page.captions] == [f"{FIGURE_WORD[lang]} 1."] and "data/a_plot/values.csv" in page.links
        assert "data:image" not in (site / lang / "a_plot.html").read_text(encoding="utf-8")  # the PNG is a file of the site


def _chromium() -> str:
    """Debian's Chromium, or skip (fail where KUNTALIB_REQUIRE_BROWSER is set, as in CI)."""
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        if os.environ.get("KUNTALIB_REQUIRE_BROWSER"):
            pytest.fail("KUNTALIB_REQUIRE_BROWSER is set but chromium is not installed")
        pytest.skip("chromium not installed (make browser)")
    return exe


@contextmanager
def served(site: Path):
    """Serve ``site`` on 127.0.0.1 and open headless Chromium: yields (base URL, browser)."""
    from playwright.sync_api import sync_playwright

    exe = _chromium()
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(site))
    handler.log_message = lambda *a, **k: None
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=exe,
                args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
            )
            try:
                yield f"http://127.0.0.1:{server.server_port}/", browser
            finally:
                browser.close()
    finally:
        server.shutdown()


@pytest.mark.browser
def test_site_in_headless_chromium(site):
    external: list[str] = []
    failed: list[str] = []
    with served(site) as (base, browser):
        page = browser.new_page()

        def guard(route):
            url = route.request.url
            if url.startswith(base) or url.startswith("data:"):
                route.continue_()
            else:
                external.append(url)
                route.abort()

        page.route("**/*", guard)
        page.on("requestfailed", lambda r: failed.append(r.url) if r.url.startswith(base) else None)
        seen: set[str] = set()
        todo = [base + "index.html"]
        while todo:
            url = todo.pop()
            if url in seen:
                continue
            seen.add(url)
            if not url.endswith(".html"):  # a download (CSV, workbook): served, not opened
                assert page.request.get(url).status == 200, url
                continue
            resp = page.goto(url, wait_until="load")
            assert resp is not None and resp.status == 200, f"{url}: {resp and resp.status}"
            broken = page.eval_on_selector_all("img", "els => els.filter(e => !(e.complete && e.naturalWidth > 0)).length")
            assert broken == 0, f"{url}: {broken} image(s) do not show"
            hrefs = page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)")
            for href in hrefs:
                href = href.split("#")[0]
                if href.startswith(base):
                    todo.append(href)
                elif href:
                    external.append(href)
    assert not external, f"external requests or links: {external}"
    assert not failed, f"failed requests: {failed}"
    assert len([u for u in seen if u.endswith(".html")]) == 1 + 3 + 3 * 2
    assert len(seen) == 1 + 3 + 3 * 2 + 3  # and each language's table values.csv
    n_images = 0
    for page_file in site.rglob("a_plot.html"):
        n_images += page_file.read_text(encoding="utf-8").count("<img")
    assert n_images >= 6
