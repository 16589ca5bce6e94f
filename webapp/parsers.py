"""JSON request bodies that every view can trust: an object, at most ``MAX_DEPTH`` levels deep, no
NUL characters and no unpaired surrogates anywhere (keys included).

Python's ``json`` raises RecursionError on deep nesting, which DRF's parser does not catch (a 500);
PostgreSQL refuses NUL in text and jsonb, and psycopg cannot encode a lone surrogate (a 500 on
save). Each is a 400 with a clear message here instead.
"""

from __future__ import annotations

import json

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

MAX_DEPTH = 32


def problem_in(value, max_depth: int = MAX_DEPTH) -> str | None:
    """What makes a parsed JSON value unacceptable, or None. Iterative: depth costs no recursion."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > max_depth:
                return f"JSON nested more than {max_depth} levels deep is not accepted."
            children = item.items() if isinstance(item, dict) else ((None, v) for v in item)
            for key, child in children:
                if key is not None:
                    stack.append((key, depth))
                stack.append((child, depth + 1))
        elif isinstance(item, str):
            problem = text_problem(item)
            if problem:
                return problem
    return None


def text_problem(text: str) -> str | None:
    if "\x00" in text:
        return "Text must not contain NUL (\\u0000) characters."
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "Text must be valid Unicode (it contains an unpaired surrogate)."
    return None


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a JSON number.")


def loads_checked(raw: bytes | str, max_depth: int = MAX_DEPTH):
    """``json.loads`` whose every failure is a ``ValueError`` with a message fit for the client."""
    try:
        value = json.loads(raw, parse_constant=_refuse_constant)
    except RecursionError:
        raise ValueError(f"JSON nested more than {max_depth} levels deep is not accepted.") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"The body is not valid JSON: {exc}") from None
    except ValueError as exc:  # NaN / Infinity
        raise ValueError(f"The body is not valid JSON: {exc}") from None
    problem = problem_in(value, max_depth)
    if problem:
        raise ValueError(problem)
    return value


class StrictJSONParser(JSONParser):
    """Every JSON request body of the API is an object; anything else is refused here, so no view
    meets ``[]``, ``1`` or ``"s"`` where it reads fields."""

    def parse(self, stream, media_type=None, parser_context=None):
        raw = stream.read() if stream is not None else b""
        try:
            value = loads_checked(raw)
        except ValueError as exc:
            raise ParseError(str(exc)) from None
        if not isinstance(value, dict):
            raise ParseError("The body must be a JSON object ({\"field\": value, …}).")
        return value
