"""A small StatFin PxWeb API v1 client (json-stat2), for refreshing indicator series.

Offline use is the rule here: tests run it against recorded-style fixture
responses served on the loopback interface. ``fetch`` does one POST with a
JSON query and returns a tidy frame (one column per dimension, labels, and
``value``).

Why our own: pxwebpy, the maintained Python client, speaks only PxWeb API 2.0
(StatFin's series here are on v1) and raises its own and requests' exceptions;
pyjstat parses json-stat but allocates whatever a document claims and lets
``KeyError``/``ValueError`` through on malformed input. Neither caps size or
refuses non-https addresses, so kuntalib keeps this client, with every failure
as :class:`PxWebError`:

- ``https`` only (``http`` is allowed for the loopback interface, where tests serve fixtures);
- a timeout per request, and at most ``retries`` retries on 429, 502, 503 and 504 and on
  timeouts and dropped connections, waiting ``Retry-After`` (seconds or an HTTP date) when the
  server gives it, else exponential backoff; a wait over ``max_wait`` seconds is not waited for;
- a cap on the response size (``max_bytes``) and on the cells a document may claim
  (``max_cells``), checked before anything is allocated;
- every malformed json-stat2 document is a :class:`PxWebError` saying which key is wrong.
"""

from __future__ import annotations

import email.utils
import json
import math
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

import pandas as pd

__all__ = ["PxWebError", "query_body", "parse_jsonstat2", "fetch", "STATFIN", "POPULATION_11RA", "MAX_CELLS", "MAX_BYTES"]

STATFIN = "https://pxdata.stat.fi/PxWeb/api/v1/fi/StatFin"
POPULATION_11RA = "vaerak/statfin_vaerak_pxt_11ra.px"
#: Cells a document may claim (a municipality's series are thousands, not millions).
MAX_CELLS = 1_000_000
#: Bytes an answer may have.
MAX_BYTES = 50 * 2**20
_RETRY_STATUS = {429, 502, 503, 504}
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


class PxWebError(RuntimeError):
    """The API answered with an error, could not be reached, or the answer is not a json-stat2 dataset."""


def query_body(selections: dict[str, list[str]]) -> dict[str, Any]:
    """PxWeb query: each dimension code with the value codes to keep; json-stat2 response."""
    return {
        "query": [{"code": code, "selection": {"filter": "item", "values": list(values)}} for code, values in selections.items()],
        "response": {"format": "json-stat2"},
    }


def _category_codes(dim_id: str, dim: Any) -> list[tuple[str, str]]:
    where = f"dimension[{dim_id!r}]"
    if not isinstance(dim, dict) or not isinstance(dim.get("category"), dict):
        raise PxWebError(f"{where}: needs a 'category' object")
    cat = dim["category"]
    index = cat.get("index")
    if isinstance(index, dict):
        if not all(isinstance(k, str) for k in index) or not all(isinstance(v, int) and not isinstance(v, bool) for v in index.values()):
            raise PxWebError(f"{where}.category.index: codes must map to whole-number positions")
        if sorted(index.values()) != list(range(len(index))):
            raise PxWebError(f"{where}.category.index: positions must be 0…{len(index) - 1}, each once")
        codes = sorted(index, key=index.get)
    elif isinstance(index, list):
        if not all(isinstance(c, str) for c in index) or len(set(index)) != len(index):
            raise PxWebError(f"{where}.category.index: a list of distinct code strings is needed")
        codes = list(index)
    elif index is None and isinstance(cat.get("label"), dict) and len(cat["label"]) == 1:
        codes = list(cat["label"])  # json-stat: a single category may omit its index
    else:
        raise PxWebError(f"{where}.category.index: missing or not an object or list")
    labels = cat.get("label", {})
    if not isinstance(labels, dict) or not all(isinstance(v, str) for v in labels.values()):
        raise PxWebError(f"{where}.category.label: must map codes to text")
    return [(c, labels.get(c, c)) for c in codes]


def parse_jsonstat2(doc: Any, *, max_cells: int = MAX_CELLS) -> pd.DataFrame:
    """Flatten a json-stat2 dataset into rows (row-major order over ``id``/``size``).

    Raises
    ------
    PxWebError
        For anything that is not a well-formed json-stat2 dataset of at most ``max_cells`` cells,
        naming the key at fault.
    """
    if not isinstance(doc, dict) or doc.get("class") != "dataset" or "id" not in doc or "value" not in doc:
        raise PxWebError("not a json-stat2 dataset (need class=dataset, id, size, value)")
    ids, sizes, dims = doc["id"], doc.get("size"), doc.get("dimension")
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids) or len(set(ids)) != len(ids):
        raise PxWebError("'id' must be a list of distinct dimension names")
    if not isinstance(sizes, list) or len(sizes) != len(ids) or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0
                                                                        for n in sizes):
        raise PxWebError("'size' must list a whole, non-negative size for each dimension of 'id'")
    cells = math.prod(sizes)
    if cells > max_cells:
        raise PxWebError(f"the document claims {cells:,} cells, more than the cap of {max_cells:,}")
    if not isinstance(dims, dict):
        raise PxWebError("'dimension' must be an object with an entry for each dimension of 'id'")
    missing = [i for i in ids if i not in dims]
    if missing:
        raise PxWebError(f"'dimension' has no entry for {missing[0]!r}")
    axes = [_category_codes(dim_id, dims[dim_id]) for dim_id in ids]
    if [len(a) for a in axes] != list(sizes):
        raise PxWebError(f"dimension sizes {sizes} do not match categories {[len(a) for a in axes]}")
    values = doc["value"]
    if isinstance(values, dict):  # sparse form: position -> value
        dense: list[Any] = [None] * cells
        for k, v in values.items():
            if not (isinstance(k, str) and k.isdigit() and int(k) < cells):
                raise PxWebError(f"'value' key {k!r} is not a cell position below {cells}")
            dense[int(k)] = v
        values = dense
    if not isinstance(values, list):
        raise PxWebError("'value' must be a list or an object of positions")
    if len(values) != cells:
        raise PxWebError(f"{len(values)} values for {cells} cells")
    bad = next((i for i, v in enumerate(values) if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float, str)))), None)
    if bad is not None:
        raise PxWebError(f"'value'[{bad}] is {type(values[bad]).__name__}, not a number or null")
    idx = pd.MultiIndex.from_product([[c for c, _ in a] for a in axes], names=ids)
    df = idx.to_frame(index=False)
    for dim_id, a in zip(ids, axes, strict=True):
        df[f"{dim_id}_label"] = df[dim_id].map(dict(a))
    df["value"] = pd.to_numeric(pd.Series(values, dtype=object), errors="coerce")
    return df


def _check_url(table_url: str) -> None:
    parts = urllib.parse.urlsplit(table_url)
    if parts.scheme == "https" and parts.hostname:
        return
    if parts.scheme == "http" and parts.hostname in _LOOPBACK:
        return
    raise PxWebError(f"{table_url}: only https addresses are fetched (http only on the loopback interface)")


def _retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a Retry-After header (seconds or an HTTP date); None if absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now)


def fetch(table_url: str, selections: dict[str, list[str]], *, timeout: float = 30.0, retries: int = 3, backoff: float = 1.0,
          max_wait: float = 60.0, max_bytes: int = MAX_BYTES, max_cells: int = MAX_CELLS, sleep=time.sleep) -> pd.DataFrame:
    """POST a query to a PxWeb table URL and parse the json-stat2 answer.

    Parameters
    ----------
    timeout
        Seconds per request.
    retries
        Further attempts after a 429/502/503/504 answer, a timeout or a dropped connection.
    backoff
        First wait in seconds when the server gives no ``Retry-After``; doubled each retry.
    max_wait
        The longest single wait; a server asking for more is an error, not a hang.
    max_bytes, max_cells
        Caps on the answer's size and on the cells it may claim.
    sleep
        How to wait (tests pass a recorder).
    """
    _check_url(table_url)
    body = json.dumps(query_body(selections)).encode()
    attempt = 0
    while True:
        req = urllib.request.Request(table_url, data=body, headers={"Content-Type": "application/json"}, method="POST")
        wait: float | None = None
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                payload = resp.read(max_bytes + 1)
            break
        except urllib.error.HTTPError as exc:
            if exc.code not in _RETRY_STATUS or attempt >= retries:
                detail = exc.read(200) if exc.fp is not None else b""
                raise PxWebError(f"{table_url}: HTTP {exc.code}: {detail!r}"
                                 + (f" after {attempt + 1} attempts" if attempt else "")) from exc
            wait = _retry_after(exc.headers.get("Retry-After") if exc.headers else None, time.time())
        except (TimeoutError, ConnectionError) as exc:
            if attempt >= retries:
                raise PxWebError(f"{table_url}: {type(exc).__name__} after {attempt + 1} attempts ({timeout} s each)") from exc
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, (TimeoutError, ConnectionError)) and attempt < retries:
                pass
            else:
                raise PxWebError(f"{table_url}: {exc.reason}") from exc
        except (OSError, ValueError) as exc:
            raise PxWebError(f"{table_url}: {exc}") from exc
        wait = backoff * 2**attempt if wait is None else wait
        if wait > max_wait:
            raise PxWebError(f"{table_url}: the server asks to wait {wait:.0f} s, more than max_wait={max_wait:.0f} s")
        sleep(wait)
        attempt += 1
    if len(payload) > max_bytes:
        raise PxWebError(f"{table_url}: the answer is larger than max_bytes={max_bytes:,}")
    try:
        doc = json.loads(payload)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise PxWebError(f"{table_url}: answer is not JSON") from exc
    try:
        return parse_jsonstat2(doc, max_cells=max_cells)
    except PxWebError as exc:
        raise PxWebError(f"{table_url}: {exc}") from exc
