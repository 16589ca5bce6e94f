"""The adjustment renderer: CameraRaw-style global parametric adjustments (exposure, white balance,
tone, colour) on float32 sRGB images. The ``adjust`` engine wraps it; other engines (automatic and
interactive retouching) render through it too, so server output and the browser preview share it.

The exact formulas, their order and constants are specified in ``docs/adjustments.md``; the browser
preview (``frontend/static/js/adjust-preview.js``) re-implements the same specification, so any
change here must be made there too (``tests/browser/test_adjust_preview.py`` holds them together).

Pipeline (per pixel, sRGB-encoded input ``x`` in [0, 1]):

1. *Per-channel stage* — a 1-D function of each channel value alone:
   decode to linear light, multiply by ``2**exposure`` × white-balance gain, re-encode with the
   sRGB curve *extended past 1* (nothing is clipped), then the tone sliders (contrast,
   highlights, shadows, whites, blacks) and the tone curve, all on the sRGB-encoded value.
   Because it is a function of one scalar per channel it is tabulated: a 65 536-entry table
   per channel, indexed by ``round(x * 65535)`` (8- and 16-bit sources hit table entries
   exactly: 65535 = 255 × 257).
1b. *Local stage* (only when texture, clarity or dehaze is non-zero) — neighbourhood sliders: a
   luma detail layer of the *source* (its difference from a box mean) is added to every channel,
   and a veil proportional to the source's local haze (box mean of its darkest channel) is taken
   away or added. The box radii are fractions of the image's short side, so a proxy and the
   original get the same look. These sliders are not LUT-safe (:data:`LUT_SAFE_PARAMS`).
2. *Colour stage* — vibrance and saturation scale each pixel's distance from its luma.
3. Clip to [0, 1] — the only clip in the pipeline.

The image is processed in row tiles on a small thread pool (NumPy releases the GIL), float32
throughout; stages whose parameters are identity are skipped.

This direct renderer is also the reference for the 3-D LUT path (:mod:`inference.lut`), and
the only path :func:`apply_adjustments` takes: stage 1 is already one fused lookup, and on float
data it is about three times faster than a trilinear 3-D lookup in NumPy, and exact at every
setting (``docs/adjustments.md``, *3-D LUT*).
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import cv2
import numpy as np

from inference.colour import linear_to_srgb, srgb_to_linear
from inference.interface import EngineInputError, ProgressFn, check_params

# --- constants (mirrored in docs/adjustments.md and adjust-preview.js) -------------------------
LUMA = (0.2126, 0.7152, 0.0722)  # Rec. 709 weights, applied to sRGB-encoded values in stage 2
TEMPERATURE_STOPS = 0.5  # temperature ±100 → R ×2^±0.5, B ×2^∓0.5 (before normalisation)
TINT_STOPS = 0.5  # tint +100 → G ×2^-0.5 (before normalisation)
WHITES_RANGE = 0.2  # whites ±100 moves encoded 1.0 by ±0.2
BLACKS_RANGE = 0.2  # blacks ±100 moves encoded 0.0 by ±0.2
LUT_SIZE = 65536
MAX_CURVE_POINTS = 64
_TILE_PIXELS = 49152  # ~0.6 MB of float32 RGB per tile: stays in L2 while a tile is worked on
# Tiles of 8/16-bit codes (render_codes): a third of the bytes in and out, so twice the pixels per
# tile pays (per-tile NumPy call and GIL overheads halve; measured best on 2 cores).
_CODE_TILE_PIXELS = 2 * _TILE_PIXELS

FLOAT_PARAMS = ("exposure", "contrast", "highlights", "shadows", "whites", "blacks",
                "temperature", "tint", "vibrance", "saturation")
# Neighbourhood sliders (stage 1b): they read the pixels around each pixel, so they are neither in
# FLOAT_PARAMS (per-pixel sliders, the set learned models predict) nor LUT-safe.
LOCAL_PARAMS = ("texture", "clarity", "dehaze")
TEXTURE_RADIUS = 0.004  # box radius as a fraction of the short side (at least 1 px)
CLARITY_RADIUS = 0.03  # clarity's and dehaze's box radius, likewise
TEXTURE_GAIN = 1.5  # texture +100 adds 1.5 × the fine detail layer
CLARITY_GAIN = 1.0  # clarity +100 adds the coarse detail layer, weighted to the mid-tones
DEHAZE_STRENGTH = 0.5  # dehaze ±100 removes / adds a veil of up to half the local haze


def _float(lo: float, hi: float, description: str) -> dict[str, Any]:
    return {"type": "float", "default": 0.0, "min": lo, "max": hi, "description": description}


# The sliders: declared ranges (checked by :func:`normalize_params`), published as the adjust
# engine's parameters.
PARAMS: dict[str, dict[str, Any]] = {
    "exposure": _float(-5.0, 5.0, "Exposure in EV: multiplies linear light by 2^EV."),
    "contrast": _float(-100.0, 100.0, "S-curve around mid-grey (sRGB 0.5)."),
    "highlights": _float(-100.0, 100.0, "Brightens (+) or recovers (−) the upper tones."),
    "shadows": _float(-100.0, 100.0, "Opens (+) or deepens (−) the lower tones."),
    "whites": _float(-100.0, 100.0, "Moves the white end of the tone range."),
    "blacks": _float(-100.0, 100.0, "Moves the black end of the tone range."),
    "temperature": _float(-100.0, 100.0, "White balance: warmer (+) or cooler (−)."),
    "tint": _float(-100.0, 100.0, "White balance: magenta (+) or green (−)."),
    "vibrance": _float(-100.0, 100.0, "Saturation weighted towards muted colours."),
    "saturation": _float(-100.0, 100.0, "Uniform saturation; −100 gives grey."),
    "texture": _float(-100.0, 100.0, "Fine local detail (skin texture): more (+) or smoother (−)."),
    "clarity": _float(-100.0, 100.0, "Mid-tone local contrast at a coarse scale: punchier (+) or softer (−)."),
    "dehaze": _float(-100.0, 100.0, "Removes (+) or adds (−) a veil where the photo is locally hazy."),
    "tone_curve": {"type": "curve", "default": [],
                   "description": "Control points [x, y] in [0, 1] on sRGB-encoded values; "
                                  "monotone cubic (PCHIP); (0,0) and (1,1) implied when "
                                  "no point has x = 0 or x = 1; empty = identity."},
}

IDENTITY_PARAMS: dict[str, Any] = {**{k: 0.0 for k in (*FLOAT_PARAMS, *LOCAL_PARAMS)}, "tone_curve": []}

#: Sliders that are per-pixel colour functions (an output pixel depends on that input pixel
#: alone), so a 3-D LUT (:mod:`inference.lut`) can stand in for them: all but LOCAL_PARAMS.
#: A slider that looks at neighbouring pixels (texture, clarity, dehaze, local tone mapping…)
#: must NOT be listed: while it is active, :func:`lut_safe` is False and only the direct
#: renderer can render the parameters.
LUT_SAFE_PARAMS = frozenset(FLOAT_PARAMS) | {"tone_curve"}


# --- scalar building blocks (float64, only ever evaluated on small tables) ----------------------
def white_balance_gains(temperature: float, tint: float) -> np.ndarray:
    """Linear-light RGB multipliers for temperature/tint, normalised to keep grey's luminance."""
    t, u = temperature / 100.0, tint / 100.0
    raw = np.array([2.0 ** (TEMPERATURE_STOPS * t), 2.0 ** (-TINT_STOPS * u),
                    2.0 ** (-TEMPERATURE_STOPS * t)])
    return raw / float(np.dot(LUMA, raw))


def channel_gains(p: dict[str, Any]) -> np.ndarray:
    """Total linear-light gain per channel: 2^exposure × white balance."""
    return (2.0 ** p["exposure"]) * white_balance_gains(p["temperature"], p["tint"])


def _curve_points(points: list[list[float]]) -> tuple[np.ndarray, np.ndarray]:
    pts = sorted((float(x), float(y)) for x, y in points)
    if pts[0][0] > 0.0:
        pts.insert(0, (0.0, 0.0))
    if pts[-1][0] < 1.0:
        pts.append((1.0, 1.0))
    xs, ys = zip(*pts, strict=True)
    return np.array(xs), np.array(ys)


def pchip_slopes(xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Fritsch–Carlson/Butland monotone tangents (same rule as SciPy's PchipInterpolator)."""
    h = np.diff(xs)
    d = np.diff(ys) / h
    n = len(xs)
    m = np.zeros(n)
    if n == 2:
        m[:] = d[0]
        return m
    for k in range(1, n - 1):
        if d[k - 1] * d[k] > 0:
            w1, w2 = 2 * h[k] + h[k - 1], h[k] + 2 * h[k - 1]
            m[k] = (w1 + w2) / (w1 / d[k - 1] + w2 / d[k])

    def edge(h0: float, h1: float, d0: float, d1: float) -> float:
        s = ((2 * h0 + h1) * d0 - h0 * d1) / (h0 + h1)
        if np.sign(s) != np.sign(d0):
            return 0.0
        if np.sign(d0) != np.sign(d1) and abs(s) > 3 * abs(d0):
            return 3 * d0
        return s

    m[0] = edge(h[0], h[1], d[0], d[1])
    m[-1] = edge(h[-1], h[-2], d[-1], d[-2])
    return m


def tone_curve_function(points: list[list[float]]):
    """The tone curve as a vectorised float64 function; identity outside [0, 1] has unit slope."""
    if not points:
        return None
    xs, ys = _curve_points(points)
    m = pchip_slopes(xs, ys)

    def curve(v: np.ndarray) -> np.ndarray:
        v = np.asarray(v, dtype=np.float64)
        q = np.clip(v, 0.0, 1.0)
        k = np.clip(np.searchsorted(xs, q, side="right") - 1, 0, len(xs) - 2)
        h = xs[k + 1] - xs[k]
        t = (q - xs[k]) / h
        t2, t3 = t * t, t * t * t
        y = ((2 * t3 - 3 * t2 + 1) * ys[k] + (t3 - 2 * t2 + t) * h * m[k]
             + (-2 * t3 + 3 * t2) * ys[k + 1] + (t3 - t2) * h * m[k + 1])
        return y + (v - q)  # unit-slope continuation below 0 and above 1

    return curve


# The tone sliders in order, each with its mask of q = clamp01(e) (docs/adjustments.md, stage 1,
# step 4). Plain arithmetic: the differentiable twin (inference/render_torch.py) uses them too.
TONE_MASKS = (
    ("contrast", lambda q: q * (1 - q) * (2 * q - 1)),
    ("highlights", lambda q: q * q * (1 - q)),
    ("shadows", lambda q: q * (1 - q) ** 2),
    ("whites", lambda q: WHITES_RANGE * q ** 3),
    ("blacks", lambda q: BLACKS_RANGE * (1 - q) ** 3),
)


def tone_sliders(e: np.ndarray, p: dict[str, Any]) -> np.ndarray:
    """Contrast, highlights, shadows, whites, blacks on sRGB-encoded values (float64, unclipped)."""
    for key, shape in TONE_MASKS:
        amount = p[key] / 100.0
        if amount:
            e = e + amount * shape(np.clip(e, 0.0, 1.0))
    return e


def channel_function(p: dict[str, Any], channel: int, x: np.ndarray) -> np.ndarray:
    """Stage 1 for one channel: sRGB-encoded input in [0, 1] → encoded value before colour stage."""
    gain = channel_gains(p)[channel]
    e = linear_to_srgb(srgb_to_linear(x, np.float64) * gain, np.float64)  # not clipped past 1
    e = tone_sliders(e, p)
    curve = tone_curve_function(p["tone_curve"])
    return curve(e) if curve is not None else e


def _curve_is_identity(points: list[list[float]]) -> bool:
    return all(x == y for x, y in points)


def _stage1_active(p: dict[str, Any]) -> bool:
    return any(p[k] != 0 for k in FLOAT_PARAMS if k not in ("vibrance", "saturation")) or \
        not _curve_is_identity(p["tone_curve"])


def build_lut(p: dict[str, Any]) -> np.ndarray:
    """Stage-1 table: float32 array of 3 × LUT_SIZE, channel c's entries at [c * LUT_SIZE:]."""
    x = np.arange(LUT_SIZE, dtype=np.float64) / (LUT_SIZE - 1)
    return np.concatenate([channel_function(p, c, x) for c in range(3)]).astype(np.float32)


def lut_safe(params: dict[str, Any]) -> bool:
    """True when every non-identity parameter is in :data:`LUT_SAFE_PARAMS` (``params``
    normalised, i.e. complete)."""
    return all(k in LUT_SAFE_PARAMS for k, v in params.items() if v != IDENTITY_PARAMS.get(k))


def local_radii(height: int, width: int) -> tuple[int, int]:
    """Box radii (texture, clarity/dehaze) in pixels for an image of this size; a radius never
    exceeds (short − 1) / 2, so the reflected border stays inside the image."""
    short = min(height, width)
    cap = max(0, (short - 1) // 2)
    return (min(cap, max(1, round(TEXTURE_RADIUS * short))), min(cap, max(1, round(CLARITY_RADIUS * short))))


def box_mean(x: np.ndarray, radius: int) -> np.ndarray:
    """Mean over the (2r + 1)² window, borders reflected without repeating the edge (OpenCV's
    BORDER_REFLECT_101: index −1 reads 1). float32 H×W in and out; radius 0 returns a copy."""
    if radius <= 0:
        return x.copy()
    k = 2 * radius + 1
    return cv2.blur(x, (k, k), borderType=cv2.BORDER_REFLECT_101)


def _as_float_tile(tile: np.ndarray) -> np.ndarray:
    """A tile of the source as float32 in [0, 1]: integer code values scaled exactly as the decoder
    scales them (:func:`inference.imageio.decode`), so both kinds of source give the same maps."""
    if tile.dtype == np.uint8:
        return np.multiply(tile, np.float32(1 / 255), dtype=np.float32)
    if tile.dtype == np.uint16:
        return np.multiply(tile, np.float32(1 / 65535), dtype=np.float32)
    return np.clip(tile, 0.0, 1.0)


def local_maps(image: np.ndarray, p: dict[str, Any]) -> dict[str, np.ndarray] | None:
    """Stage 1b's per-pixel maps of the clipped source (None when no local slider is in use):
    ``texture`` = Y − box(Y, r_t), ``clarity`` = Y − box(Y, r_c) with Y the Rec. 709 luma of the
    sRGB-encoded source, and ``haze`` = box(min(R, G, B), r_c). Luma and channel minimum are
    computed in row tiles on the thread pool; the box means are OpenCV's. ``image``: float, or
    8/16-bit code values."""
    if not any(p[k] for k in LOCAL_PARAMS):
        return None
    h, w = image.shape[:2]
    r_t, r_c = local_radii(h, w)
    y = np.empty((h, w), dtype=np.float32)
    darkest = np.empty((h, w), dtype=np.float32) if p["dehaze"] else None
    weights = np.array(LUMA, dtype=np.float32)

    def fill(b: tuple[int, int]) -> None:
        tile = _as_float_tile(image[b[0]:b[1]])
        np.matmul(tile, weights, out=y[b[0]:b[1]])
        if darkest is not None:  # two minima of channel views: far faster than min(axis=2)
            np.minimum(tile[..., 0], tile[..., 1], out=darkest[b[0]:b[1]])
            np.minimum(darkest[b[0]:b[1]], tile[..., 2], out=darkest[b[0]:b[1]])

    rows = max(1, _TILE_PIXELS // w)
    list(_pool().map(fill, [(r, min(h, r + rows)) for r in range(0, h, rows)]))
    maps = {}
    for key, radius in (("texture", r_t), ("clarity", r_c)):
        if p[key]:
            maps[key] = box_mean(y, radius)
            np.subtract(y, maps[key], out=maps[key])  # Y − box(Y), in the blur's own buffer
    if darkest is not None:
        maps["haze"] = box_mean(darkest, r_c)
    return maps


def _luma(r: np.ndarray, g: np.ndarray, b: np.ndarray) -> np.ndarray:
    y = r * np.float32(LUMA[0])
    y += g * np.float32(LUMA[1])
    y += b * np.float32(LUMA[2])
    return y


# The stages below work on one tile held as three contiguous channel planes: NumPy's loops over a
# contiguous plane are vectorised, while the same operation on a channel view of interleaved RGB
# (stride 3) or broadcast over a trailing axis of 3 runs several times slower.
def _local_stage(planes: list[np.ndarray], maps: dict[str, np.ndarray], p: dict[str, Any]) -> None:
    """Stage 1b on a tile's stage-1 channel planes (in place; ``maps`` sliced to the same rows)."""
    add = None
    if "texture" in maps:
        add = maps["texture"] * np.float32(TEXTURE_GAIN * p["texture"] / 100.0)
    if "clarity" in maps:
        y = _luma(*planes)
        np.clip(y, 0.0, 1.0, out=y)
        weight = np.float32(4.0) * y * (np.float32(1.0) - y)  # 1 at mid-grey, 0 at black and white
        weight *= maps["clarity"]
        weight *= np.float32(CLARITY_GAIN * p["clarity"] / 100.0)
        add = weight if add is None else add + weight
    if add is not None:
        for ch in planes:
            ch += add
    if "haze" in maps:
        s = maps["haze"] * np.float32(DEHAZE_STRENGTH * p["dehaze"] / 100.0)
        keep = np.float32(1.0) - s
        for ch in planes:
            ch -= s
            ch /= keep


def _colour_stage(planes: list[np.ndarray], sat: float, vib: float) -> None:
    """Stage 2 in place: out = y + f (u − y) = f u + (1 − f) y, with y the luma and f the per-pixel
    chroma gain (1 + sat, times 1 + vib (1 − min(max − min, 1))² with vibrance)."""
    r, g, b = planes
    y = _luma(r, g, b)
    if vib:
        c = np.maximum(r, g)
        np.maximum(c, b, out=c)
        low = np.minimum(r, g)
        np.minimum(low, b, out=low)
        c -= low
        np.minimum(c, np.float32(1.0), out=c)
        np.subtract(np.float32(1.0), c, out=c)
        c *= c
        c *= np.float32(vib * (1.0 + sat))
        c += np.float32(1.0 + sat)  # c is now f
        y *= np.float32(1.0) - c
        for ch in planes:
            ch *= c
    else:
        y *= np.float32(-sat)
        for ch in planes:
            ch *= np.float32(1.0 + sat)
    for ch in planes:
        ch += y


def normalize_params(params: dict[str, Any] | None) -> dict[str, Any]:
    """Validate against :data:`PARAMS`, fill defaults (unknown keys / out-of-range values raise
    EngineInputError)."""
    p = check_params(PARAMS, dict(params or {}), "adjust")
    if len(p["tone_curve"]) > MAX_CURVE_POINTS:
        raise EngineInputError(f"parameter 'tone_curve' allows at most {MAX_CURVE_POINTS} points")
    return p


# --- the full-resolution kernel -----------------------------------------------------------------
_executor: ThreadPoolExecutor | None = None
_executor_pid = 0
_executor_lock = threading.Lock()


def _pool() -> ThreadPoolExecutor:
    """The module's tile thread pool; re-created in a forked child (threads do not survive fork)."""
    global _executor, _executor_pid
    with _executor_lock:
        if _executor is None or _executor_pid != os.getpid():
            _executor = ThreadPoolExecutor(max_workers=max(1, os.cpu_count() or 1),
                                           thread_name_prefix="render")
            _executor_pid = os.getpid()
        return _executor


tile_pool = _pool  # the pool other full-resolution kernels (inference.lut) share


# Table index = round(x * 65535) + channel offset, computed as trunc(x * 65535 + offset + 0.5).
_INDEX_OFFSETS = np.array([0.5, LUT_SIZE + 0.5, 2 * LUT_SIZE + 0.5], dtype=np.float32)
_CODE_TOPS = {np.dtype(np.uint8): 255, np.dtype(np.uint16): 65535}


def _offsets_row(width: int, offsets: np.ndarray = _INDEX_OFFSETS) -> np.ndarray:
    # A whole row of offsets (R, G, B, R, …): NumPy adds two long rows far faster than it
    # broadcasts a 3-vector (inner loops of length 3).
    return np.tile(offsets, width)


class _Stage1:
    """Stage 1 for one image: tile → its three stage-1 channel planes (:meth:`planes`), or, when
    nothing follows stage 1, tile → finished pixels straight into the output (:meth:`finish`).

    The source is float in [0, 1] (indexed by ``round(x · 65535)``) or 8/16-bit code values k
    (index ``k · 65535 / top``, the same table entry a decoded float source hits). 8-bit sources use
    OpenCV's per-channel 256-entry look-up instead of building indices: one pass per tile."""

    def __init__(self, lut: np.ndarray | None, src_dtype: np.dtype, width: int, out_top: int | None,
                 direct: bool):
        self.lut, self.out_top = lut, out_top
        self.top = _CODE_TOPS.get(np.dtype(src_dtype))
        self.tables8 = None
        if self.top == 255:  # per-channel tables of the 256 codes (float32 1×256×3 for cv2.LUT)
            if lut is None:
                tables = np.repeat(np.multiply(np.arange(256, dtype=np.uint8), np.float32(1 / 255),
                                               dtype=np.float32)[:, None], 3, axis=1)
            else:
                tables = np.ascontiguousarray(lut.reshape(3, LUT_SIZE)[:, ::257].T)
            self.tables8 = np.ascontiguousarray(tables).reshape(1, 256, 3)
            self.planes8 = [np.ascontiguousarray(self.tables8[0, :, c]).reshape(1, 256) for c in range(3)]
        if direct and lut is not None:  # the table is the finished pixel: clip (and quantise) it
            done = np.clip(lut, 0.0, 1.0)
            self.done = done if out_top is None else _quantised(done, out_top)
            if self.tables8 is not None:
                self.done8 = np.ascontiguousarray(self.done.reshape(3, LUT_SIZE)[:, ::257].T).reshape(1, 256, 3)
        if self.tables8 is None and lut is not None:
            if self.top is None:
                self.offsets_row = _offsets_row(width)
            else:  # integer codes: k · (65535 / top) + channel offset, in int32
                self.offsets_row = _offsets_row(width, np.array([0, LUT_SIZE, 2 * LUT_SIZE], np.int32))

    def _indices(self, src: np.ndarray) -> np.ndarray:
        rows = src.shape[0]
        if self.top is None:
            t = np.clip(src, 0.0, 1.0)
            flat = t.reshape(rows, -1)
            flat *= np.float32(LUT_SIZE - 1)
            flat += self.offsets_row
            return t.astype(np.int32)
        idx = src.astype(np.int32)
        flat = idx.reshape(rows, -1)
        if self.top != LUT_SIZE - 1:
            flat *= (LUT_SIZE - 1) // self.top
        flat += self.offsets_row
        return idx

    def finish(self, src: np.ndarray, dst: np.ndarray) -> None:
        if self.tables8 is not None:
            cv2.LUT(src, self.done8, dst=dst)
        else:
            self.done.take(self._indices(src), out=dst, mode="clip")

    def planes(self, src: np.ndarray) -> list[np.ndarray]:
        if self.tables8 is not None:
            return [cv2.LUT(code, table) for code, table in zip(cv2.split(src), self.planes8, strict=True)]
        if self.lut is None:  # no stage 1: the source values themselves
            return list(cv2.split(_as_float_tile(src) if self.top else src))
        return list(cv2.split(self.lut.take(self._indices(src), mode="clip")))


def _quantised(x: np.ndarray, top: int) -> np.ndarray:
    """``floor(clip(x, 0, 1) · top + 0.5)`` in float32 (the rounding of
    :func:`inference.imagefiles.quantise`), as uint8 / uint16."""
    t = np.clip(x, 0.0, 1.0)
    t *= np.float32(top)
    t += np.float32(0.5)
    return t.astype(np.uint8 if top == 255 else np.uint16)  # the cast truncates


def _process_tile(src: np.ndarray, dst: np.ndarray, stage1: _Stage1, colour: tuple[float, float] | None,
                  local: tuple[dict, dict] | None = None) -> None:
    """One row tile: stage 1 (table look-up), 1b (local, with ``local`` = (maps of these rows,
    params)), stage 2 (colour), clip (and quantise, for integer ``dst``); writes into ``dst``."""
    if colour is None and local is None and stage1.lut is not None:
        stage1.finish(src, dst)
        return
    planes = stage1.planes(src)
    if local is not None:
        _local_stage(planes, *local)
    if colour is not None:
        _colour_stage(planes, *colour)
    for ch in planes:
        np.clip(ch, 0.0, 1.0, out=ch)
    if stage1.out_top is None:
        cv2.merge(planes, dst=dst)
        return
    for ch in planes:
        ch *= np.float32(stage1.out_top)
        ch += np.float32(0.5)
    cv2.merge([ch.astype(dst.dtype) for ch in planes], dst=dst)  # the cast truncates, as quantise's


def _render(img: np.ndarray, params: dict[str, Any] | None, progress: ProgressFn | None,
            out_bits: int | None, out: np.ndarray | None = None) -> np.ndarray:
    p = normalize_params(params)
    sat, vib = p["saturation"] / 100.0, p["vibrance"] / 100.0
    colour = (sat, vib) if (sat or vib) else None
    lut = build_lut(p) if _stage1_active(p) else None
    maps = local_maps(img, p)
    h, w, _ = img.shape
    out_top = None if out_bits is None else {8: 255, 16: 65535}[out_bits]
    stage1 = _Stage1(lut, img.dtype, w, out_top, direct=colour is None and maps is None)
    dtype = np.float32 if out_top is None else _quantised(np.zeros(1), out_top).dtype
    if out is None:
        out = np.empty((h, w, 3), dtype=dtype)
    elif out.shape != (h, w, 3) or out.dtype != dtype or not out.flags.c_contiguous:
        raise EngineInputError(f"out must be a C-contiguous {h}×{w}×3 {np.dtype(dtype).name} array")
    rows = max(1, (_TILE_PIXELS if stage1.top is None else _CODE_TILE_PIXELS) // w)
    bounds = [(r, min(h, r + rows)) for r in range(0, h, rows)]

    def work(b: tuple[int, int]) -> None:
        local = None if maps is None else ({k: v[b[0]:b[1]] for k, v in maps.items()}, p)
        _process_tile(img[b[0]:b[1]], out[b[0]:b[1]], stage1, colour, local)

    if len(bounds) == 1:
        work(bounds[0])
        if progress:
            progress(1.0)
        return out
    reported = 0
    for i, _ in enumerate(_pool().map(work, bounds)):
        # Called from the calling thread as tiles finish, at most once per percent (a 24 MP image
        # has ~490 tiles; callers often publish each call).
        percent = (i + 1) * 100 // len(bounds)
        if progress and percent > reported:
            reported = percent
            progress((i + 1) / len(bounds))
    return out


def _checked_shape(img: np.ndarray) -> None:
    if img.ndim != 3 or img.shape[2] != 3 or img.shape[0] < 1 or img.shape[1] < 1:
        raise EngineInputError(f"image must be an H×W×3 array, got shape {img.shape}")


def apply_adjustments(image: np.ndarray, params: dict[str, Any] | None,
                      progress: ProgressFn | None = None) -> np.ndarray:
    """Apply the adjustments to a float32 H×W×3 sRGB image in [0, 1]; returns a new float32 array.

    ``params`` may be partial (missing keys mean identity); it is validated against the spec.
    """
    img = np.asarray(image)
    _checked_shape(img)
    if not np.issubdtype(img.dtype, np.floating):
        raise EngineInputError(f"image must be float32 sRGB in [0, 1], got dtype {img.dtype}")
    img = np.ascontiguousarray(img, dtype=np.float32)  # the tile kernel reshapes rows in place
    return _render(img, params, progress, None)


def render_codes(codes: np.ndarray, params: dict[str, Any] | None, *, bits: int = 8,
                 progress: ProgressFn | None = None, out: np.ndarray | None = None) -> np.ndarray:
    """The same renderer from 8/16-bit sRGB code values to ``bits``-bit codes: equal, pixel for
    pixel, to ``quantise(apply_adjustments(codes / top), bits)`` (the table entries a decoded
    source would hit, and the same rounding), without a float copy of the image in or out — what
    writing a dataset at full resolution needs (``webapp/annotation/export.py``). ``out``: an array
    to render into (H×W×3 of the output's dtype), e.g. one reused photo after photo: a fresh 24 MP
    array costs page faults that take longer than filling it on this project's VMs."""
    img = np.asarray(codes)
    _checked_shape(img)
    if img.dtype not in _CODE_TOPS:
        raise EngineInputError(f"codes must be uint8 or uint16, got dtype {img.dtype}")
    if bits not in (8, 16):
        raise EngineInputError("bits must be 8 or 16")
    return _render(np.ascontiguousarray(img), params, progress, bits, out)


__all__ = ["FLOAT_PARAMS", "IDENTITY_PARAMS", "LOCAL_PARAMS", "LUMA", "LUT_SAFE_PARAMS", "PARAMS",
           "apply_adjustments", "box_mean", "build_lut", "channel_function", "channel_gains",
           "local_maps", "local_radii", "lut_safe", "normalize_params", "render_codes",
           "pchip_slopes", "tile_pool", "tone_curve_function", "tone_sliders", "white_balance_gains"]
