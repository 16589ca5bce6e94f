"""User clicks: validation, rescaling and the disk-map encoding used by interactive engines.

Clicks follow the registry convention (``{"x", "y", "positive"}`` in pixels of the image they
were placed on). Region-aware interactive retouching (paper 000 in ``shared/papers``) turns the
sparse positive / negative clicks into two binary guidance maps in which every pixel within a
small disk (radius 3 px) around a click is set; :func:`click_maps` builds those maps so that a
learned region-selection model can later consume exactly the same encoding the classical engine
uses for seeding.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from inference.interface import EngineInputError

DISK_RADIUS = 3  # pixels, at the resolution the maps are drawn at


@dataclass(frozen=True)
class Click:
    x: float
    y: float
    positive: bool


def parse_clicks(clicks: Any, width: int, height: int, max_clicks: int = 64) -> list[Click]:
    """Validate ``clicks`` against an image of ``width``×``height``; raise EngineInputError if bad.

    A click must lie inside the image: ``0 <= x < width`` and ``0 <= y < height`` (pixel
    coordinates, so ``x == width`` is already outside).
    """
    if clicks is None:
        return []
    if not isinstance(clicks, list | tuple):
        raise EngineInputError("clicks must be a list of {x, y, positive} objects")
    if len(clicks) > max_clicks:
        raise EngineInputError(f"too many clicks ({len(clicks)}); at most {max_clicks} are accepted")
    out = []
    for i, c in enumerate(clicks):
        if not isinstance(c, dict) or "x" not in c or "y" not in c:
            raise EngineInputError(f"click {i} must be an object with numeric 'x' and 'y'")
        x, y, pos = c["x"], c["y"], c.get("positive", True)
        if isinstance(x, bool) or isinstance(y, bool) or not isinstance(x, int | float) \
                or not isinstance(y, int | float):
            raise EngineInputError(f"click {i}: 'x' and 'y' must be numbers")
        if not (math.isfinite(x) and math.isfinite(y)):
            raise EngineInputError(f"click {i}: 'x' and 'y' must be finite")
        if not isinstance(pos, bool):
            raise EngineInputError(f"click {i}: 'positive' must be true or false")
        if not (0 <= x < width and 0 <= y < height):
            raise EngineInputError(
                f"click {i} at ({x:g}, {y:g}) lies outside the {width}×{height} image")
        out.append(Click(float(x), float(y), pos))
    return out


def scale_clicks(clicks: list[Click], sx: float, sy: float, width: int, height: int) -> list[Click]:
    """Map clicks from original pixels to a resized image (``sx``, ``sy`` = new/old), clamped inside.

    Pixel centres map as ``(x + 0.5) * s - 0.5`` so a click on the last pixel stays on the last pixel.
    """
    out = []
    for c in clicks:
        x = min(max((c.x + 0.5) * sx - 0.5, 0.0), width - 1.0)
        y = min(max((c.y + 0.5) * sy - 0.5, 0.0), height - 1.0)
        out.append(Click(x, y, c.positive))
    return out


def disk_map(points: list[Click], height: int, width: int, radius: float = DISK_RADIUS) -> np.ndarray:
    """Binary H×W float32 map with 1 inside a disk of ``radius`` around each point."""
    out = np.zeros((height, width), dtype=np.float32)
    r = int(math.ceil(radius))
    for c in points:
        cx, cy = int(round(c.x)), int(round(c.y))
        y0, y1 = max(cy - r, 0), min(cy + r + 1, height)
        x0, x1 = max(cx - r, 0), min(cx + r + 1, width)
        yy, xx = np.mgrid[y0:y1, x0:x1]
        inside = (yy - cy) ** 2 + (xx - cx) ** 2 <= radius * radius
        out[y0:y1, x0:x1][inside] = 1.0
    return out


def click_maps(clicks: list[Click], height: int, width: int,
               radius: float = DISK_RADIUS) -> tuple[np.ndarray, np.ndarray]:
    """The positive and negative guidance maps (G_p, G_n) for ``clicks`` already at this resolution."""
    pos = [c for c in clicks if c.positive]
    neg = [c for c in clicks if not c.positive]
    return disk_map(pos, height, width, radius), disk_map(neg, height, width, radius)
