"""What participants may send, checked before anything is stored: the body (size, JSON object) and
each field's shape and size. Participants are anonymous, so every field is refused (``Refusal``, 400;
``TooLarge``, 413) rather than trimmed or stored as sent.

Text is refused when PostgreSQL could not store it (NUL, lone UTF-16 surrogates), and numbers when
they are not finite (``NaN`` is not JSON to PostgreSQL), as ``webapp.parsers`` refuses them in every
JSON body of the API.
"""

from __future__ import annotations

import math
import re

from webapp.parsers import loads_checked, text_problem
from webapp.refusal import Refusal, TooLarge

MAX_BODY = 64 * 1024  # bytes of one participant request body
JSON_TYPE = "application/json"
PUBLIC_ID = re.compile(r"[A-Za-z0-9_-]{1,32}")  # study public ids and image tokens (secrets.token_urlsafe)

MAX_PARAMS, MAX_PARAM_KEY, MAX_PARAM_VALUE = 32, 64, 256
MAX_SCREEN, MAX_SCREEN_KEY, MAX_SCREEN_TEXT = 16, 32, 256
MAX_KEY = 80  # idempotency and client keys
PLATFORM_IDS = (("PROLIFIC_PID", "prolific"), ("workerId", "mturk"))  # URL parameter, platform


def check_length(declared: str | None) -> None:
    """TooLarge when the request says (Content-Length) that its body is larger than ``MAX_BODY``."""
    try:
        size = int(declared or 0)
    except ValueError:
        raise Refusal("Content-Length is not a number.") from None
    if size > MAX_BODY:
        raise TooLarge(f"The request body is too large (at most {MAX_BODY // 1024} KiB).")


def require_json(content_type: str) -> None:
    if content_type != JSON_TYPE:
        raise Refusal(f"Send the body as JSON (Content-Type: {JSON_TYPE}).", status=415)


def parse_body(body: bytes) -> dict:
    """The request body as a JSON object; TooLarge past ``MAX_BODY``, Refusal for anything else (not
    JSON, nested too deep, NaN, NUL or lone surrogates anywhere: ``webapp.parsers.loads_checked``)."""
    if len(body) > MAX_BODY:
        raise TooLarge(f"The request body is too large (at most {MAX_BODY // 1024} KiB).")
    try:
        data = loads_checked(body or b"{}")
    except ValueError as exc:
        raise Refusal(str(exc)) from None
    if not isinstance(data, dict):
        raise Refusal("Send a JSON object.")
    return data


def storable(value: str, name: str) -> str:
    """``value``, unless the database could not store it (NUL, lone surrogates): Refusal."""
    problem = text_problem(value)
    if problem:
        raise Refusal(f"{name}: {problem}")
    return value


def text(value, name: str, max_chars: int) -> str:
    """A string of 1..``max_chars`` characters that the database can store."""
    if not isinstance(value, str) or not 0 < len(value) <= max_chars:
        raise Refusal(f"{name} must be a string of 1 to {max_chars} characters.")
    return storable(value, name)


def optional_key(value, name: str) -> str:
    """An optional client-made key (absent, null or empty: none)."""
    return "" if value in (None, "") else text(value, name, MAX_KEY)


def params(value) -> dict[str, str]:
    """The link's URL parameters: an object of at most ``MAX_PARAMS`` strings (numbers are kept as text)."""
    if value is None:
        return {}
    if not isinstance(value, dict) or len(value) > MAX_PARAMS:
        raise Refusal(f"params must be an object of at most {MAX_PARAMS} URL parameters.")
    out = {}
    for key, item in value.items():
        text(key, "A params name", MAX_PARAM_KEY)
        if isinstance(item, int | float) and not isinstance(item, bool) and math.isfinite(item):
            item = str(item)
        out[key] = text(item, f"params.{key[:MAX_PARAM_KEY]}", MAX_PARAM_VALUE) if item != "" else ""
    return out


def screen(value) -> dict:
    """Window and screen facts: an object of at most ``MAX_SCREEN`` numbers, booleans or short strings."""
    if value is None:
        return {}
    if not isinstance(value, dict) or len(value) > MAX_SCREEN:
        raise Refusal(f"screen must be an object of at most {MAX_SCREEN} values.")
    for key, item in value.items():
        text(key, "A screen name", MAX_SCREEN_KEY)
        if isinstance(item, str):
            if item:
                text(item, f"screen.{key}", MAX_SCREEN_TEXT)
        elif isinstance(item, bool) or item is None:
            pass
        elif not isinstance(item, int | float) or not math.isfinite(item) or abs(item) > 1e9:
            raise Refusal(f"screen.{key} must be a number, a boolean or a string of at most {MAX_SCREEN_TEXT} "
                          "characters.")
    return dict(value)


def platform_id(link_params: dict[str, str]) -> str:
    """The recruitment platform's id of the person ("prolific:<PROLIFIC_PID>", "mturk:<workerId>"), or ""."""
    for name, platform in PLATFORM_IDS:
        if link_params.get(name):
            return f"{platform}:{link_params[name]}"
    return ""
