"""How deep a JSON text nests, counted without parsing it: a hostile body of thousands of "[" is refused before
it reaches a recursive parser (limits.JSON_MAX_DEPTH)."""

from __future__ import annotations

_OPENING = frozenset("[{")
_CLOSING = frozenset("]}")


def json_nesting_within(text: str, max_depth: int) -> bool:
    """Whether JSON text nests arrays and objects at most `max_depth` deep (brackets inside strings do not
    count). Malformed text may pass: the parser refuses it afterwards, safely, once its depth is bounded."""
    depth, in_string, escaped = 0, False, False
    for char in text:
        if in_string:
            # Inside a string only its end matters; an escaped quote does not end it.
            in_string = escaped or char != '"'
            escaped = not escaped and char == "\\"
        elif char == '"':
            in_string = True
        elif char in _OPENING:
            depth += 1
            if depth > max_depth:
                return False
        elif char in _CLOSING:
            depth -= 1
    return True
