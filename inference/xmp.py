"""Lightroom / Camera Raw XMP sidecars ↔ the renderer's parameters.

The mapping is by meaning (a slider to the slider that does the same job), not by pixels: our
renderer (``inference.render``, ``docs/adjustments.md``) is not Adobe's, so the same numbers give
a similar, not an identical, picture. PPR10K released its experts' edits this way (one sidecar per
photo and expert) and its parameter-regression baseline reads these keys.

Reading never drops anything silently: every ``crs:`` setting that has no counterpart here is
returned in ``unsupported`` with its value, and clamped values are listed in ``notes``.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

CRS = "http://ns.adobe.com/camera-raw-settings/1.0/"
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
X = "adobe:ns:meta/"
MAX_BYTES = 1 << 20

# crs name → (our parameter, our range). Scales are 1:1: Camera Raw's sliders and ours share their
# ranges (exposure ±5 EV, the others ±100; IncrementalTemperature/Tint are the non-raw ±100 ones).
SLIDERS: dict[str, tuple[str, float]] = {
    "IncrementalTemperature": ("temperature", 100.0),
    "IncrementalTint": ("tint", 100.0),
    "Exposure2012": ("exposure", 5.0),
    "Contrast2012": ("contrast", 100.0),
    "Highlights2012": ("highlights", 100.0),
    "Shadows2012": ("shadows", 100.0),
    "Whites2012": ("whites", 100.0),
    "Blacks2012": ("blacks", 100.0),
    "Texture": ("texture", 100.0),
    "Clarity2012": ("clarity", 100.0),
    "Dehaze": ("dehaze", 100.0),
    "Vibrance": ("vibrance", 100.0),
    "Saturation": ("saturation", 100.0),
}
CURVE = "ToneCurvePV2012"
# Written by Lightroom with every sidecar; they carry no adjustment, so they are not "unsupported".
BOOKKEEPING = {"Version", "ProcessVersion", "HasSettings", "AlreadyApplied", "ToneCurveName2012", "CompatibleVersion"}


class XmpError(ValueError):
    """The text is not an XMP packet we can read."""


@dataclass
class XmpSettings:
    params: dict = field(default_factory=dict)  # our parameters found in the sidecar
    unsupported: dict[str, str] = field(default_factory=dict)  # crs name → value as written
    notes: list[str] = field(default_factory=list)


def _number(text: str) -> float:
    return float(text.strip().replace("+", "", 1))


def _parse_curve(values: list[str]) -> list[list[float]]:
    points = []
    for value in values:
        m = re.fullmatch(r"\s*([-+]?\d+(?:\.\d+)?)\s*,\s*([-+]?\d+(?:\.\d+)?)\s*", value)
        if not m:
            raise XmpError(f"crs:{CURVE} point {value!r} is not 'x, y'")
        x, y = (min(max(float(v), 0.0), 255.0) / 255.0 for v in m.groups())
        points.append([round(x, 6), round(y, 6)])
    points.sort()
    deduped = [p for i, p in enumerate(points) if i == 0 or p[0] != points[i - 1][0]]
    return [] if all(x == y for x, y in deduped) else deduped


def _crs_items(root: ET.Element):
    """(local name, value or list of rdf:li values) for every crs: setting, attribute or element."""
    for desc in root.iter(f"{{{RDF}}}Description"):
        for name, value in desc.attrib.items():
            if name.startswith(f"{{{CRS}}}"):
                yield name[len(CRS) + 2:], value
        for child in desc:
            if child.tag.startswith(f"{{{CRS}}}"):
                items = [li.text or "" for li in child.iter(f"{{{RDF}}}li")]
                yield child.tag[len(CRS) + 2:], items if items else (child.text or "")


def read_xmp(text: str | bytes) -> XmpSettings:
    """Parse a sidecar; raises :class:`XmpError` on anything that is not a readable XMP packet."""
    if isinstance(text, bytes):
        if len(text) > MAX_BYTES:
            raise XmpError("the sidecar is larger than 1 MB")
        text = text.decode("utf-8", errors="replace")
    if len(text) > MAX_BYTES:
        raise XmpError("the sidecar is larger than 1 MB")
    if "<!DOCTYPE" in text or "<!ENTITY" in text:
        raise XmpError("document type declarations are not accepted in a sidecar")
    try:
        root = ET.fromstring(text.strip().lstrip("\ufeff"))
    except ET.ParseError as exc:
        raise XmpError(f"not well-formed XML: {exc}") from None
    found = XmpSettings()
    for name, value in _crs_items(root):
        if name in SLIDERS:
            key, limit = SLIDERS[name]
            try:
                number = _number(value if isinstance(value, str) else "")
            except ValueError:
                raise XmpError(f"crs:{name} = {value!r} is not a number") from None
            if abs(number) > limit:
                found.notes.append(f"crs:{name} {number:g} is outside ±{limit:g}; clamped")
                number = max(-limit, min(limit, number))
            found.params[key] = number
        elif name == CURVE:
            found.params["tone_curve"] = _parse_curve(value if isinstance(value, list) else [])
        elif name not in BOOKKEEPING:
            found.unsupported[name] = value if isinstance(value, str) else "; ".join(value)
    if not found.params and not found.unsupported and root.find(f".//{{{RDF}}}Description") is None:
        raise XmpError("no rdf:Description with Camera Raw settings was found")
    return found


def _format(name: str, value: float) -> str:
    if name == "Exposure2012":
        return f"{value:+.2f}"
    rounded = int(round(value))
    return f"{rounded:+d}" if rounded else "0"


def write_xmp(params: dict, *, creator: str = "Portrait Lab") -> str:
    """A sidecar for ``params`` (missing keys are written as 0, like Lightroom writes a neutral
    slider). Reading it back with :func:`read_xmp` gives ``params`` to the written precision
    (exposure 0.01 EV, the others whole units, curve points in 0–255 steps)."""
    attrs = ['    crs:Version="15.0"', '    crs:ProcessVersion="11.0"', '    crs:HasSettings="True"']
    for name, (key, _limit) in SLIDERS.items():
        attrs.append(f'    crs:{name}="{_format(name, float(params.get(key, 0.0) or 0.0))}"')
    curve = params.get("tone_curve") or [[0.0, 0.0], [1.0, 1.0]]
    points = "".join(f"\n      <rdf:li>{round(x * 255)}, {round(y * 255)}</rdf:li>" for x, y in curve)
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
        f'<x:xmpmeta xmlns:x="{X}" x:xmptk="{creator}">\n'
        f' <rdf:RDF xmlns:rdf="{RDF}">\n'
        f'  <rdf:Description rdf:about=""\n    xmlns:crs="{CRS}"\n'
        + "\n".join(attrs) + ">\n"
        f"   <crs:{CURVE}>\n    <rdf:Seq>{points}\n    </rdf:Seq>\n   </crs:{CURVE}>\n"
        "  </rdf:Description>\n </rdf:RDF>\n</x:xmpmeta>\n"
        '<?xpacket end="w"?>\n'
    )


__all__ = ["CURVE", "SLIDERS", "XmpError", "XmpSettings", "read_xmp", "write_xmp"]
