"""The recorded Upbit traffic shipped with the adapter, read with exact decimals."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from adapters.upbit.parsing import loads

SAMPLES = Path(__file__).resolve().parents[4] / "adapters" / "upbit" / "samples"


def recorded(name: str) -> Iterator[dict[str, Any]]:
    """Yield the responses of a sample file that were recorded from the real API (2xx)."""
    data = loads((SAMPLES / name).read_text(encoding="utf-8"))
    for sample in data["samples"]:
        for interaction in sample.get("interactions", []):
            response = interaction.get("response") or {}
            if response.get("status") in (200, 201):
                yield response


def recorded_body(name: str, index: int = 0) -> Any:
    """Return the body of the `index`-th response of a sample file recorded from the real API."""
    return list(recorded(name))[index]["body"]


def shape(value: Any) -> Any:
    """Return the keys and JSON types of a body, recursively (lists by their first item)."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return type(value).__name__
