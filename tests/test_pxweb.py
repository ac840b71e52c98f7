"""The PxWeb client against slow, throttling, oversized and malformed answers: PxWebError, never a bare exception."""

import copy
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kuntalib.indicators.pxweb import PxWebError, fetch, parse_jsonstat2

FIXTURE = Path(__file__).parent / "fixtures" / "pxweb_11ra_rautjarvi.json"
DOC = json.loads(FIXTURE.read_text(encoding="utf-8"))


class _Server:
    """A loopback server answering each POST with the next scripted (status, headers, body, delay)."""

    def __init__(self, script):
        self.script = list(script)
        self.calls = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                self.rfile.read(int(self.headers["Content-Length"]))
                status, headers, body, delay = outer.script[min(outer.calls, len(outer.script) - 1)]
                outer.calls += 1
                time.sleep(delay)
                try:
                    self.send_response(status)
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *a):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/PxWeb/api/v1/fi/StatFin/t.px"

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.server.shutdown()


OK = (200, {"Content-Type": "application/json"}, FIXTURE.read_bytes(), 0)


@pytest.mark.parametrize("url", ["file:///etc/passwd", "http://pxdata.stat.fi/PxWeb/api/v1/fi/StatFin/x.px", "ftp://x/y",
                                 "https:///no-host", "javascript:alert(1)"])
def test_only_https_addresses_are_fetched(url):
    with pytest.raises(PxWebError, match="only https"):
        fetch(url, {})


def test_throttling_is_retried_honouring_retry_after():
    waits = []
    with _Server([(429, {"Retry-After": "2"}, b"slow down", 0), (503, {}, b"busy", 0), OK]) as srv:
        df = fetch(srv.url, {"Alue": ["KU689"]}, timeout=5, sleep=waits.append)
    assert df.value.tolist() == [3335, 3146]
    assert waits == [2.0, 2.0] and srv.calls == 3  # Retry-After, then backoff 1·2¹
    date = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 30))
    with _Server([(503, {"Retry-After": date}, b"", 0), OK]) as srv:
        waits.clear()
        fetch(srv.url, {}, timeout=5, sleep=waits.append)
    assert 25 <= waits[0] <= 31
    with _Server([(429, {"Retry-After": "3600"}, b"", 0)]) as srv, pytest.raises(PxWebError, match="wait 3600 s"):
        fetch(srv.url, {}, timeout=5, sleep=waits.append)
    with _Server([(503, {}, b"busy", 0)]) as srv, pytest.raises(PxWebError, match="HTTP 503.*after 3 attempts"):
        fetch(srv.url, {}, timeout=5, retries=2, sleep=lambda s: None)
    assert srv.calls == 3


def test_a_timeout_is_a_pxweb_error_after_the_retries():
    with _Server([(200, {}, FIXTURE.read_bytes(), 1.0)]) as srv, pytest.raises(PxWebError, match="after 2 attempts"):
        fetch(srv.url, {}, timeout=0.2, retries=1, sleep=lambda s: None)


def test_size_and_cell_caps():
    with _Server([OK]) as srv, pytest.raises(PxWebError, match="larger than max_bytes"):
        fetch(srv.url, {}, timeout=5, max_bytes=100)
    huge = copy.deepcopy(DOC)
    huge["size"] = [10_000, 10_000, 1]
    t0 = time.perf_counter()
    with pytest.raises(PxWebError, match="claims 100,000,000 cells"):
        parse_jsonstat2(huge)
    assert time.perf_counter() - t0 < 1


def _mutations():
    def m(f):
        d = copy.deepcopy(DOC)
        f(d)
        return d

    dim = next(i for i, n in zip(DOC["id"], DOC["size"], strict=True) if n > 1)  # a dimension of several categories
    return {
        "id not a list": m(lambda d: d.update(id="Alue")),
        "size missing": m(lambda d: d.pop("size")),
        "size negative": m(lambda d: d.update(size=[-1] * len(d["id"]))),
        "dimension missing an id": m(lambda d: d["dimension"].pop(dim)),
        "category not an object": m(lambda d: d["dimension"][dim].update(category=[1, 2])),
        "index positions repeat": m(lambda d: d["dimension"][dim]["category"].update(index=dict.fromkeys(d["dimension"][dim]["category"]["index"], 0))),
        "label not text": m(lambda d: d["dimension"][dim]["category"].update(label={"x": 1})),
        "sparse key out of range": m(lambda d: d.update(value={"99": 1})),
        "value an object in a list": m(lambda d: d.update(value=[{"a": 1}] * len(d["value"]))),
        "value not a list": m(lambda d: d.update(value="3335")),
        "dimension not an object": m(lambda d: d.update(dimension=[])),
        "document a list": [DOC],
    }


@pytest.mark.parametrize("name", list(_mutations()))
def test_malformed_documents_are_pxweb_errors(name):
    with pytest.raises(PxWebError):
        parse_jsonstat2(_mutations()[name])


_json = st.recursive(st.none() | st.booleans() | st.integers(-5, 5) | st.floats(allow_nan=False) | st.text(max_size=5),
                     lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=6), kids, max_size=4), max_leaves=20)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_any_json_is_a_frame_or_a_pxweb_error(data):
    """Random documents and random edits of the real one: a DataFrame or PxWebError, nothing else."""
    if data.draw(st.booleans()):
        doc = data.draw(_json)
    else:
        doc = copy.deepcopy(DOC)
        path = data.draw(st.sampled_from([("id",), ("size",), ("value",), ("dimension",), ("dimension", DOC["id"][0]),
                                          ("dimension", DOC["id"][0], "category"),
                                          ("dimension", DOC["id"][0], "category", "index"),
                                          ("dimension", DOC["id"][0], "category", "label")]))
        target = doc
        for k in path[:-1]:
            target = target[k]
        target[path[-1]] = data.draw(_json)
    try:
        out = parse_jsonstat2(doc)
    except PxWebError:
        return
    assert isinstance(out, pd.DataFrame) and "value" in out.columns
