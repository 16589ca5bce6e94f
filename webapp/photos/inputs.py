"""Check where on a photo a request points: clicks and boxes in the photo's original pixels.

Used by job inputs and by interactive sessions alike; ``photo`` is anything with ``width`` and
``height`` (a ``Photo``), or None to skip the bounds check.
"""

from __future__ import annotations

from webapp.refusal import Refusal

MAX_CLICKS = 200


def _is_number(value) -> bool:
    return not isinstance(value, bool) and isinstance(value, int | float)


def validate_clicks(clicks, photo) -> list[dict]:
    if not isinstance(clicks, list):
        raise Refusal("clicks must be a list of {x, y, positive}")
    if len(clicks) > MAX_CLICKS:
        raise Refusal(f"at most {MAX_CLICKS} clicks are accepted")
    clean = []
    for i, click in enumerate(clicks):
        if not isinstance(click, dict) or not {"x", "y"} <= set(click):
            raise Refusal(f"clicks[{i}] must be an object with x, y and positive")
        x, y, positive = click["x"], click["y"], click.get("positive", True)
        if not (_is_number(x) and _is_number(y)):
            raise Refusal(f"clicks[{i}]: x and y must be numbers")
        if not isinstance(positive, bool):
            raise Refusal(f"clicks[{i}].positive must be true or false")
        if photo is not None and not (0 <= x < photo.width and 0 <= y < photo.height):
            raise Refusal(f"clicks[{i}] at ({x}, {y}) lies outside the {photo.width} × {photo.height} image")
        clean.append({"x": float(x), "y": float(y), "positive": positive})
    return clean


def validate_box(box, photo) -> list[float]:
    """``[x0, y0, x1, y1]`` clipped to the photo; at least 2 × 2 pixels must remain."""
    if not isinstance(box, list) or len(box) != 4 or not all(_is_number(v) for v in box):
        raise Refusal("reference.box must be [x0, y0, x1, y1] in pixels")
    x0, y0, x1, y1 = (float(v) for v in box)
    x0, x1 = sorted((max(0.0, x0), min(float(photo.width), x1)))
    y0, y1 = sorted((max(0.0, y0), min(float(photo.height), y1)))
    if x1 - x0 < 2 or y1 - y0 < 2:
        raise Refusal("reference.box must cover at least 2 × 2 pixels inside the image")
    return [x0, y0, x1, y1]
