"""The editor's door: ``kuntalib serve`` (``make serve``) previews the published site in a browser.

``outputs/site/`` is served by Python's :mod:`http.server` on the loopback address only
(127.0.0.1: no other machine can reach it), as the files are: the site index is the landing
page. The pages are self-contained, so the preview shows what Kuntaliitto's site would.
"""

from __future__ import annotations

import functools
import sys
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from kuntalib import paths

__all__ = ["HOST", "DEFAULT_PORT", "make_server", "site_address", "serve"]

#: The only address the preview listens on.
HOST = "127.0.0.1"

#: The preview's port unless told otherwise (``--port``; 0 picks a free one).
DEFAULT_PORT = 8000


def make_server(site: Path, port: int = DEFAULT_PORT) -> ThreadingHTTPServer:
    """An HTTP server for the files under ``site`` on ``127.0.0.1:port``, bound but not yet serving.

    Parameters
    ----------
    site : Path
        The folder served (``outputs/site/``); ``/`` answers with its ``index.html``.
    port : int
        The port; 0 lets the system pick a free one (read it from ``server.server_address``).

    Returns
    -------
    ThreadingHTTPServer
        The server; call ``serve_forever()`` and, from another thread, ``shutdown()``.
    """
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(site))
    return ThreadingHTTPServer((HOST, port), handler)


def site_address(server: ThreadingHTTPServer) -> str:
    """The address of the site index a server answers on, e.g. ``http://127.0.0.1:8000/``.

    Parameters
    ----------
    server : ThreadingHTTPServer
        A server from :func:`make_server`.

    Returns
    -------
    str
        The index's URL.
    """
    host, port = server.server_address[:2]
    return f"http://{host}:{port}/"


def serve(port: int = DEFAULT_PORT) -> int:
    """``kuntalib serve``: serve ``outputs/site/`` until Ctrl-C; return the exit code.

    Prints the index's address first. The site must have been built (``kuntalib build``).

    Parameters
    ----------
    port : int
        The port; 0 lets the system pick a free one.

    Returns
    -------
    int
        0 after Ctrl-C, 2 when there is no site or the port cannot be used.
    """
    site = paths.site_dir()
    if not (site / "index.html").is_file():
        print(f"kuntalib: error: {site / 'index.html'} does not exist; run 'kuntalib build' first", file=sys.stderr)
        return 2
    try:
        server = make_server(site, port)
    except OSError as exc:
        print(f"kuntalib: error: cannot serve on {HOST}:{port}: {exc.strerror or exc} (try --port)", file=sys.stderr)
        return 2
    with server:
        print(f"Serving {site} at {site_address(server)} (this machine only; Ctrl-C stops)", flush=True)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
    return 0
