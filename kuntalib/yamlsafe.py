"""Reading YAML without surprises: safe types only, no aliases, a size cap.

``yaml.safe_load`` constructs no objects, but it still expands aliases: nine levels of
anchors in a few hundred bytes become billions of strings ("billion laughs"). kuntalib's
files never need aliases, so the loader refuses them, and refuses documents over a size cap.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

__all__ = ["YamlError", "MAX_BYTES", "NoAliasLoader", "safe_load_text", "safe_load_file"]

#: Largest YAML document kuntalib reads (bytes).
MAX_BYTES = 5 * 1024 * 1024


class YamlError(ValueError):
    """A YAML file that is not valid, too large, or uses aliases; the message names the file and place."""


class NoAliasLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that raises ``yaml.YAMLError`` at the first alias (``*name``)."""
    def compose_node(self, parent: Any, index: Any) -> Any:  # noqa: D401 - PyYAML hook
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            mark = event.start_mark
            raise yaml.YAMLError(f"line {mark.line + 1}, column {mark.column + 1}: aliases (*{event.anchor}) are not allowed")
        return super().compose_node(parent, index)


def safe_load_text(text: str, where: str = "<text>") -> Any:
    """Parse YAML ``text`` with safe types, no aliases; ``where`` names the source in errors."""
    if len(text.encode("utf-8")) > MAX_BYTES:
        raise YamlError(f"{where}: larger than {MAX_BYTES} bytes")
    try:
        return yaml.load(text, Loader=NoAliasLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise YamlError(f"{where}: not valid YAML for kuntalib: {exc}") from None


def safe_load_file(path: str | Path) -> Any:
    """Read and parse a YAML file (UTF-8) with :func:`safe_load_text`."""
    path = Path(path)
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise YamlError(f"{path}: {size} bytes, larger than {MAX_BYTES}")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise YamlError(f"{path}: not UTF-8 (byte {exc.start})") from None
    return safe_load_text(text, str(path))
