"""A small StatFin PxWeb API v1 client (json-stat2), for refreshing indicator series.

Offline use is the rule here: tests run it against recorded-style fixture
responses served on the loopback interface. ``fetch`` does one POST with a
JSON query and returns a tidy frame (one column per dimension, labels, and
``value``).
"""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import pandas as pd

__all__ = ["PxWebError", "query_body", "parse_jsonstat2", "fetch", "STATFIN", "POPULATION_11RA"]

STATFIN = "https://pxdata.stat.fi/PxWeb/api/v1/fi/StatFin"
POPULATION_11RA = "vaerak/statfin_vaerak_pxt_11ra.px"


class PxWebError(RuntimeError):
    """The API answered with an error, or the answer is not json-stat2."""


def query_body(selections: dict[str, list[str]]) -> dict[str, Any]:
    """PxWeb query: each dimension code with the value codes to keep; json-stat2 response."""
    return {
        "query": [{"code": code, "selection": {"filter": "item", "values": list(values)}} for code, values in selections.items()],
        "response": {"format": "json-stat2"},
    }


def parse_jsonstat2(doc: dict[str, Any]) -> pd.DataFrame:
    """Flatten a json-stat2 dataset into rows (row-major order over ``id``/``size``)."""
    if doc.get("class") != "dataset" or "id" not in doc or "value" not in doc:
        raise PxWebError("not a json-stat2 dataset (need class=dataset, id, size, value)")
    ids, sizes = doc["id"], doc["size"]
    dims = doc["dimension"]
    axes = []
    for dim_id in ids:
        cat = dims[dim_id]["category"]
        index = cat["index"]
        codes = sorted(index, key=index.get) if isinstance(index, dict) else list(index)
        labels = cat.get("label", {})
        axes.append([(c, labels.get(c, c)) for c in codes])
    if [len(a) for a in axes] != list(sizes):
        raise PxWebError(f"dimension sizes {sizes} do not match categories {[len(a) for a in axes]}")
    idx = pd.MultiIndex.from_product([[c for c, _ in a] for a in axes], names=ids)
    values = doc["value"]
    if isinstance(values, dict):  # sparse form
        dense = [None] * len(idx)
        for k, v in values.items():
            dense[int(k)] = v
        values = dense
    if len(values) != len(idx):
        raise PxWebError(f"{len(values)} values for {len(idx)} cells")
    df = idx.to_frame(index=False)
    for dim_id, a in zip(ids, axes, strict=True):
        df[f"{dim_id}_label"] = df[dim_id].map(dict(a))
    df["value"] = pd.to_numeric(pd.Series(values, dtype=object), errors="coerce")
    return df


def fetch(table_url: str, selections: dict[str, list[str]], *, timeout: float = 30.0) -> pd.DataFrame:
    """POST a query to a PxWeb table URL and parse the json-stat2 answer."""
    body = json.dumps(query_body(selections)).encode()
    req = urllib.request.Request(table_url, data=body, headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            payload = resp.read()
    except urllib.error.HTTPError as exc:
        raise PxWebError(f"{table_url}: HTTP {exc.code}: {exc.read()[:200]!r}") from exc
    except urllib.error.URLError as exc:
        raise PxWebError(f"{table_url}: {exc.reason}") from exc
    try:
        return parse_jsonstat2(json.loads(payload))
    except json.JSONDecodeError as exc:
        raise PxWebError(f"{table_url}: answer is not JSON") from exc
