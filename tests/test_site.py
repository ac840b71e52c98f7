"""The published site is self-contained: every page loads, every image shows, every link resolves."""

import functools
import os
import re
import shutil
import threading
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from kuntalib import paths
from kuntalib.cli import build

pytestmark = pytest.mark.slow


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
    assert len(seen) == 1 + 3 + 3 * 2
    n_images = 0
    for page_file in site.rglob("a_plot.html"):
        n_images += page_file.read_text(encoding="utf-8").count("<img")
    assert n_images >= 6
