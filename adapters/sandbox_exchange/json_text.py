"""JSON text with exact numbers: Decimals and number texts are written as they are."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any


class Number(str):
    """A JSON number given as its text (e.g. '21079000.0', '1.033e-05')."""


def render_json(value: Any) -> str:
    """Return compact JSON; Decimal and Number are written as numbers without float rounding."""
    if isinstance(value, Number):
        return str(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            return json.dumps(None)
        text = str(value)
        # Upbit writes quotation amounts as decimals (0.0, not 0): keep a JSON reader's type.
        return text if any(ch in text for ch in ".eE") else text + ".0"
    if isinstance(value, dict):
        return (
            "{" + ",".join(f"{json.dumps(str(k))}:{render_json(v)}" for k, v in value.items()) + "}"
        )
    if isinstance(value, list | tuple):
        return "[" + ",".join(render_json(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)
