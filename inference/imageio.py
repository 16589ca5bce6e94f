"""Safe decoding and fast encoding of uploaded photographs (JPEG, PNG, TIFF).

Used by the photo-upload API (to validate and normalise what users send) and by the workers.
No Django here: bytes in, float32 arrays out.

Safety model, in the order :func:`decode` applies it:

1. the byte size is checked before anything is parsed;
2. the format is sniffed from magic bytes only (file names and client content types are ignored);
3. the pixel dimensions are read from the header by a tiny parser of our own (PNG IHDR, JPEG SOFn,
   TIFF first IFD) and refused when ``width * height > max_pixels`` - before Pillow, OpenCV or
   tifffile see the file, so a 40,000 × 40,000 "bomb" costs microseconds and no allocation; with a
   ``max_memory`` budget, the memory the decode would take (:func:`decode_memory`: pixels × the
   bytes of the file's samples plus the float32 result) is checked against it the same way, so a
   236 KB PNG of 9000 × 9000 is refused (:class:`ImageTooLarge`) instead of costing 1.4 GB;
3b. a JPEG's markers are scanned up to its first scan: more than ``MAX_JPEG_METADATA_SEGMENTS``
   APPn/COM segments are refused, and Exif APP1 segments after the first are dropped before Pillow
   (which concatenates them, quadratically: 1,000 of them took 20-35 s to open);
4. Pillow opens the file restricted to the sniffed format, its reported size is checked again, and
   Pillow's own guard (``Image.MAX_IMAGE_PIXELS`` / ``DecompressionBombError``) stays on - it is
   never changed by this module, only turned into :class:`ImageRejected`;
5. pixels are fully decoded inside ``try`` with ``ImageFile.LOAD_TRUNCATED_IMAGES`` False, so a
   truncated file is an error instead of a half-grey picture.

Colour: everything is returned as sRGB. An embedded ICC profile is converted with LittleCMS
(``PIL.ImageCms``, perceptual intent, which LittleCMS treats as relative colorimetric for
matrix-shaper profiles). 16-bit RGB cannot go through Pillow's LittleCMS binding (it has no
16-bit RGB mode), so 16-bit images with a matrix-shaper profile (Adobe RGB, ProPhoto, Display P3,
linear ...) are converted here in float with the profile's own colorants and tone curves
(relative colorimetric, the same maths LittleCMS uses); other profiles on 16-bit data fall back
to LittleCMS at 8 bits (noted). A broken profile is ignored and the image treated as sRGB (noted).
CMYK without a profile uses Pillow's naive conversion (R = 255 - C - K style, no gamut model),
which is what browsers do for untagged CMYK too.

16-bit RGB(A) PNG and 16-bit/float TIFF are truncated to 8 bits by Pillow, so their pixels are
decoded with ``cv2.imdecode(IMREAD_UNCHANGED)`` (libpng/libtiff; reads LZW, Deflate, PackBits,
first page of multi-page files) with ``tifffile`` as a fallback when installed. Metadata (ICC,
EXIF orientation) always comes from Pillow's lazily parsed header.
"""

from __future__ import annotations

import io
import logging
import os
import struct
import zlib
from dataclasses import dataclass, field

import cv2
import numpy as np
from PIL import Image, ImageCms, ImageFile

from inference.colour import linear_to_srgb

try:  # optional: fallback decoder for TIFF layouts OpenCV refuses
    import tifffile
except ImportError:  # pragma: no cover - depends on the environment
    tifffile = None

log = logging.getLogger(__name__)

__all__ = [
    "DISPLAY_LONG_SIDE",
    "MAX_BYTES",
    "MAX_PIXELS",
    "WORKING_SHORT_SIDE",
    "DecodedImage",
    "ImageRejected",
    "ImageTooLarge",
    "decode",
    "decode_grey",
    "decode_memory",
    "encode_jpeg",
    "encode_png",
    "encode_tiff16",
    "load_path",
    "make_display_proxy",
    "make_proxy",
    "probe_size",
    "sniff",
    "to_uint8",
    "to_uint16",
]

WORKING_SHORT_SIDE = 360  # PPR10K-style 360p working proxies
DISPLAY_LONG_SIDE = 1600
MAX_BYTES = 200 * 2**20
MAX_PIXELS = 100_000_000
MAX_JPEG_METADATA_SEGMENTS = 128

# Truncated files must raise, never be padded with grey. Enforced again on every decode().
ImageFile.LOAD_TRUNCATED_IMAGES = False

_NAMES = {"jpeg": "JPEG", "png": "PNG", "tiff": "TIFF"}
_PIL_FORMATS = {"jpeg": ["JPEG", "MPO"], "png": ["PNG"], "tiff": ["TIFF"]}
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class ImageRejected(ValueError):
    """The upload is not an acceptable image. ``str(exc)`` is a sentence fit to show the user."""


class ImageTooLarge(ImageRejected):
    """The image is acceptable but over a size limit (bytes, pixels or decode memory): a 413, not a 400."""


@dataclass(eq=False)
class DecodedImage:
    rgb: np.ndarray  # float32 H×W×3, sRGB-encoded, [0, 1], not premultiplied (decode(as_codes=True):
    #                  the file's uint8 / uint16 code values where no float step was needed)
    alpha: np.ndarray | None  # float32 H×W in [0, 1], or None when the file has no transparency
    format: str  # "jpeg" | "png" | "tiff"
    width: int  # after EXIF orientation
    height: int
    bit_depth: int  # 8, or 16 for anything decoded with more than 8 bits per channel
    mode_in: str  # Pillow's mode for the file as opened (16-bit RGB PNG/TIFF open as "RGB")
    had_icc: bool
    exif_orientation: int | None
    notes: tuple[str, ...] = field(default_factory=tuple)  # non-fatal oddities, e.g. broken ICC


# ----------------------------------------------------------------------------------------------
# Sniffing and header probing


def _describe(data: bytes) -> str | None:
    """What a non-accepted file looks like, for the error message (None when unknown)."""
    head = data[:64]
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "a GIF image"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "a WebP image"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"):
            return "a HEIC/HEIF image"
        if brand in (b"avif", b"avis"):
            return "an AVIF image"
        return "a video or other ISO media file"
    if head.startswith(b"%PDF"):
        return "a PDF document"
    if head.startswith(b"BM"):
        return "a BMP image"
    if head.startswith((b"\x00\x00\x00\x0cjP  ", b"\xff\x4f\xff\x51")):
        return "a JPEG 2000 image"
    if head.startswith((b"\xff\x0a", b"\x00\x00\x00\x0cJXL ")):
        return "a JPEG XL image"
    if head[:4] in (b"IIRO", b"FUJI"):
        return "a camera raw file"
    if head.startswith(b"PK\x03\x04"):
        return "a ZIP archive or Office document"
    if head.startswith((b"8BPS",)):
        return "a Photoshop document"
    sample = data[:4096]
    if b"\x00" not in sample:
        try:
            text = sample.decode("utf-8")
        except UnicodeDecodeError:
            text = None
        if text is not None:
            low = text.lstrip().lower()
            if low.startswith("<svg") or ("<svg" in low and low.startswith("<?xml")):
                return "an SVG drawing"
            if low.startswith(("<!doctype html", "<html")):
                return "an HTML page"
            return "plain text"
    return None


def sniff(data: bytes) -> str:
    """``"jpeg" | "png" | "tiff"`` from the magic bytes; :class:`ImageRejected` otherwise."""
    if not data:
        raise ImageRejected("The file is empty.")
    if data[:3] == b"\xff\xd8\xff":
        return "jpeg"
    if data[:8] == _PNG_MAGIC:
        return "png"
    if data[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "tiff"
    what = _describe(bytes(data[:4096]))
    if what:
        raise ImageRejected(f"The file is not a JPEG, PNG or TIFF image (it looks like {what}).")
    raise ImageRejected("The file is not a JPEG, PNG or TIFF image (its format was not recognised).")


def _corrupt(fmt: str, detail: str = "truncated or corrupt") -> ImageRejected:
    return ImageRejected(f"The {_NAMES.get(fmt, fmt.upper())} file is {detail}.")


def _probe_png(data: bytes) -> tuple[int, int]:
    if len(data) < 33 or data[12:16] != b"IHDR" or struct.unpack(">I", data[8:12])[0] != 13:
        raise _corrupt("png")
    if zlib.crc32(data[12:29]) != struct.unpack(">I", data[29:33])[0]:
        raise _corrupt("png", "corrupt (its header checksum is wrong)")
    return struct.unpack(">II", data[16:24])


_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def _probe_jpeg(data: bytes) -> tuple[int, int]:
    i, n = 2, len(data)
    while i < n:
        if data[i] != 0xFF:  # stray bytes between segments: libjpeg skips them, so do we
            i += 1
            continue
        while i < n and data[i] == 0xFF:  # fill bytes
            i += 1
        if i >= n:
            break
        marker = data[i]
        i += 1
        if marker == 0x01 or 0xD0 <= marker <= 0xD8:  # standalone markers
            continue
        if marker in (0xD9, 0xDA) or i + 2 > n:  # EOI / start of scan before any frame header
            break
        seglen = (data[i] << 8) | data[i + 1]
        if seglen < 2:
            break
        if marker in _SOF:
            if i + 7 > n:
                break
            h, w = struct.unpack(">HH", data[i + 3:i + 7])
            return w, h
        i += seglen
    raise _corrupt("jpeg")


def _probe_tiff(data: bytes) -> tuple[int, int]:
    try:
        bo = "<" if data[:2] == b"II" else ">"
        big = struct.unpack(bo + "H", data[2:4])[0] == 43
        if big:
            off = struct.unpack(bo + "Q", data[8:16])[0]
            count = struct.unpack(bo + "Q", data[off:off + 8])[0]
            base, size, vfmt = off + 8, 20, (bo + "HHQ8s")
        else:
            off = struct.unpack(bo + "I", data[4:8])[0]
            count = struct.unpack(bo + "H", data[off:off + 2])[0]
            base, size, vfmt = off + 2, 12, (bo + "HHI4s")
        dims: dict[int, int] = {}
        for k in range(min(count, 4096)):
            tag, typ, _cnt, val = struct.unpack(vfmt, data[base + k * size:base + (k + 1) * size])
            if tag in (256, 257):
                code = {3: "H", 4: "I", 16: "Q"}.get(typ)
                if code is None:
                    break
                dims[tag] = struct.unpack(bo + code, val[:struct.calcsize(code)])[0]
        return dims[256], dims[257]
    except (struct.error, KeyError, IndexError):
        raise _corrupt("tiff") from None


def probe_size(data: bytes, fmt: str | None = None) -> tuple[int, int]:
    """(width, height) as stored (before EXIF rotation), from the header alone - no pixel decoding."""
    fmt = fmt or sniff(data)
    return {"png": _probe_png, "jpeg": _probe_jpeg, "tiff": _probe_tiff}[fmt](data)


def _check_pixels(w: int, h: int, max_pixels: int, fmt: str) -> None:
    if w <= 0 or h <= 0:
        raise _corrupt(fmt, f"corrupt (it claims a size of {w} × {h} pixels)")
    if w * h > max_pixels:
        raise ImageTooLarge(f"The image is {w} × {h} pixels; the limit is {max_pixels / 1e6:g} megapixels.")


_PNG_CHANNELS = {0: 1, 2: 3, 3: 4, 4: 2, 6: 4}  # colour type → channels as decoded (palette → RGBA)


def decode_memory(data: bytes, fmt: str, w: int, h: int) -> int:
    """Bytes a decode of this image needs at its peak, from the header: the decoder's samples plus
    the float32 RGB and alpha result (16 bytes a pixel)."""
    if fmt == "png":
        sample = (_PNG_CHANNELS.get(data[25], 4) * (2 if data[24] == 16 else 1)) if len(data) > 25 else 8
    elif fmt == "jpeg":
        sample = 4  # at most 4 components of 8 bits (CMYK); 12-bit JPEG is refused by Pillow
    else:
        sample = 8  # TIFF: up to 4 samples of 16 bits read as the first IFD says
    return w * h * (sample + 16)


def _check_memory(data: bytes, fmt: str, w: int, h: int, max_memory: int | None) -> None:
    if max_memory is None:
        return
    need = decode_memory(data, fmt, w, h)
    if need > max_memory:
        raise ImageTooLarge(
            f"The image is {w} × {h} pixels; decoding it would take about {need / 2**20:,.0f} MiB, over the "
            f"{max_memory / 2**20:,.0f} MiB budget for one image. Send a smaller image.")


def _jpeg_strip_metadata(data: bytes) -> bytes:
    """Refuse a JPEG with more than MAX_JPEG_METADATA_SEGMENTS APPn/COM segments before its first
    scan; drop every Exif APP1 segment after the first (Pillow joins them all, in quadratic time)."""
    i, n, count = 2, len(data), 0
    seen_exif = False
    drop: list[tuple[int, int]] = []
    while i + 4 <= n:
        if data[i] != 0xFF or data[i + 1] == 0xFF:  # stray or fill bytes: skipped, as decoders do
            i += 1
            continue
        marker = data[i + 1]
        if marker in (0x00, 0x01) or 0xD0 <= marker <= 0xD8:
            i += 2
            continue
        if marker in (0xD9, 0xDA):
            break
        end = i + 2 + ((data[i + 2] << 8) | data[i + 3])
        if 0xE0 <= marker <= 0xEF or marker == 0xFE:
            count += 1
            if count > MAX_JPEG_METADATA_SEGMENTS:
                raise ImageRejected(f"The JPEG file carries more than {MAX_JPEG_METADATA_SEGMENTS} metadata "
                                    "segments, which no camera or editor writes; it is not accepted.")
            if marker == 0xE1 and data[i + 4:i + 10] == b"Exif\x00\x00":
                if seen_exif:
                    drop.append((i, end))
                seen_exif = True
        i = end
    if not drop:
        return data
    kept, start = [], 0
    for a, b in drop:
        kept.append(data[start:a])
        start = b
    kept.append(data[start:])
    return b"".join(kept)


# ----------------------------------------------------------------------------------------------
# ICC handling

_SRGB_PROFILE = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
# sRGB primaries Bradford-adapted to the D50 ICC connection space (as in the ICC sRGB profile).
_SRGB_D50 = np.array([[0.4360747, 0.3850649, 0.1430804],
                      [0.2225045, 0.7168786, 0.0606169],
                      [0.0139322, 0.0971045, 0.7141733]])


def _icc_tags(icc: bytes) -> dict[bytes, bytes]:
    n = struct.unpack(">I", icc[128:132])[0]
    tags = {}
    for k in range(min(n, 200)):
        sig, off, size = struct.unpack(">4sII", icc[132 + 12 * k:144 + 12 * k])
        if off + size > len(icc):
            raise ValueError("tag outside profile")
        tags[sig] = icc[off:off + size]
    return tags


def _icc_curve(tag: bytes):
    """Tone curve (encoded → linear) from a curv or para tag, as a numpy function."""
    kind = tag[:4]
    if kind == b"curv":
        n = struct.unpack(">I", tag[8:12])[0]
        if n == 0:
            return lambda x: x
        if n == 1:
            g = struct.unpack(">H", tag[12:14])[0] / 256.0
            return lambda x: np.power(np.maximum(x, 0.0), g)
        table = np.frombuffer(tag[12:12 + 2 * n], dtype=">u2").astype(np.float64) / 65535.0
        grid = np.linspace(0.0, 1.0, n)
        return lambda x: np.interp(x, grid, table)
    if kind == b"para":
        ftype = struct.unpack(">H", tag[8:10])[0]
        nparams = {0: 1, 1: 3, 2: 4, 3: 5, 4: 7}[ftype]
        p = [v / 65536.0 for v in struct.unpack(f">{nparams}i", tag[12:12 + 4 * nparams])]
        g = p[0]
        a, b, c, d, e, f = p[1:] + [1.0, 0.0, 0.0, 0.0, 0.0, 0.0][nparams - 1:]
        if ftype == 0:
            return lambda x: np.power(np.maximum(x, 0.0), g)
        if ftype in (1, 2):
            lo = -b / a if a else 0.0
            off = c if ftype == 2 else 0.0
            return lambda x: np.where(x >= lo, np.power(np.maximum(a * x + b, 0.0), g), 0.0) + off
        return lambda x: np.where(x >= d, np.power(np.maximum(a * x + b, 0.0), g) + e, c * x + f)
    raise ValueError(f"unsupported curve type {kind!r}")


def _icc_xyz(tag: bytes) -> np.ndarray:
    if tag[:4] != b"XYZ ":
        raise ValueError("not an XYZ tag")
    return np.array(struct.unpack(">3i", tag[8:20]), dtype=np.float64) / 65536.0


def _srgb_target_matrix() -> np.ndarray:
    """XYZ(D50) → linear sRGB, from LittleCMS's own sRGB colorants so both ICC paths agree exactly."""
    try:
        tags = _icc_tags(_SRGB_PROFILE.tobytes())
        m = np.stack([_icc_xyz(tags[t]) for t in (b"rXYZ", b"gXYZ", b"bXYZ")], axis=1)
    except Exception:  # noqa: BLE001 - fall back to the published values
        m = _SRGB_D50
    return np.linalg.inv(m)


_XYZ_D50_TO_SRGB = _srgb_target_matrix()


def _apply_icc_float(rgb: np.ndarray, icc: bytes) -> np.ndarray:
    """Matrix-shaper RGB or grey (kTRC) profile → sRGB, in float (keeps 16-bit precision)."""
    space = icc[16:20]
    tags = _icc_tags(icc)
    if space == b"GRAY":
        y = _icc_curve(tags[b"kTRC"])(rgb[..., 0].astype(np.float64))
        out = linear_to_srgb(np.clip(y, 0.0, 1.0))
        return np.repeat(out[..., None], 3, axis=2)
    if space != b"RGB ":
        raise ValueError("not an RGB profile")
    m = np.stack([_icc_xyz(tags[t]) for t in (b"rXYZ", b"gXYZ", b"bXYZ")], axis=1)
    curves = [_icc_curve(tags[t]) for t in (b"rTRC", b"gTRC", b"bTRC")]
    lin = np.empty(rgb.shape, dtype=np.float32)
    for ch in range(3):
        lin[..., ch] = curves[ch](rgb[..., ch].astype(np.float64))
    mat = (_XYZ_D50_TO_SRGB @ m).astype(np.float32)
    return linear_to_srgb(np.clip(lin @ mat.T, 0.0, 1.0))


def _cms_transform(img: Image.Image, icc: bytes, mode_out: str) -> Image.Image:
    src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
    return ImageCms.profileToProfile(img, src, _SRGB_PROFILE, renderingIntent=ImageCms.Intent.PERCEPTUAL,
                                     outputMode=mode_out)


# ----------------------------------------------------------------------------------------------
# Decoding


_ORIENT_OPS = {
    2: lambda a: a[:, ::-1],
    3: lambda a: a[::-1, ::-1],
    4: lambda a: a[::-1],
    5: lambda a: a.swapaxes(0, 1),
    6: lambda a: np.rot90(a, k=-1),
    7: lambda a: a[::-1, ::-1].swapaxes(0, 1),
    8: lambda a: np.rot90(a, k=1),
}


def _orient(a: np.ndarray | None, orientation: int | None) -> np.ndarray | None:
    """Same result as ``ImageOps.exif_transpose`` for EXIF orientations 2..8."""
    if a is None or orientation not in _ORIENT_OPS:
        return a
    return np.ascontiguousarray(_ORIENT_OPS[orientation](a))


def _to_float(a: np.ndarray, keep_codes: bool = False) -> tuple[np.ndarray, int]:
    """Integer or float pixel array → float32 in [0, 1] and its bit depth (8 or 16); with
    ``keep_codes``, uint8 / uint16 arrays come back as they are (the same values, unscaled)."""
    if keep_codes and a.dtype in (np.uint8, np.uint16):
        return a, 8 if a.dtype == np.uint8 else 16
    if a.dtype == np.uint8:
        return np.multiply(a, np.float32(1 / 255), dtype=np.float32), 8  # one pass, no temporary
    if a.dtype.kind == "u" and a.dtype.itemsize == 2:
        return np.multiply(a, np.float32(1 / 65535), dtype=np.float32), 16
    if a.dtype.kind in "iu":
        hi = float(a.max()) if a.size else 0.0
        scale = 65535.0 if hi <= 65535 else float(np.iinfo(a.dtype).max)
        return np.clip(a.astype(np.float32) / np.float32(scale), 0.0, 1.0), 16
    if a.dtype.kind == "f":
        return np.clip(np.nan_to_num(a.astype(np.float32)), 0.0, 1.0), 16
    if a.dtype == bool:
        return a.astype(np.float32), 8
    raise ValueError(f"unsupported pixel type {a.dtype}")


def _split_channels(a: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """H×W or H×W×{1,2,3,4} (RGB order) → (H×W×3, alpha or None)."""
    if a.ndim == 2:
        return np.repeat(a[..., None], 3, axis=2), None
    c = a.shape[2]
    if c == 1:
        return np.repeat(a, 3, axis=2), None
    if c == 2:
        return np.repeat(a[..., :1], 3, axis=2), np.ascontiguousarray(a[..., 1])
    if c == 3:
        return a, None
    return np.ascontiguousarray(a[..., :3]), np.ascontiguousarray(a[..., 3])


def _decode_external(data: bytes, fmt: str, notes: list[str]) -> np.ndarray:
    """High-bit-depth PNG/TIFF pixels via OpenCV (then tifffile), RGB(A) channel order."""
    arr = None
    try:
        arr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    except cv2.error:
        arr = None
    if arr is not None:
        if arr.ndim == 3 and arr.shape[2] == 3:
            arr = cv2.cvtColor(arr, cv2.COLOR_BGR2RGB)
        elif arr.ndim == 3 and arr.shape[2] == 4:
            arr = cv2.cvtColor(arr, cv2.COLOR_BGRA2RGBA)
        return arr
    if fmt == "tiff" and tifffile is not None:
        try:
            with tifffile.TiffFile(io.BytesIO(data)) as tf:
                page = tf.pages[0]
                arr = page.asarray()
                axes = page.axes
            if axes.startswith("S") and arr.ndim == 3:  # planar configuration: S, Y, X
                arr = np.moveaxis(arr, 0, -1)
            notes.append("decoded_with_tifffile")
            return arr
        except Exception as exc:  # noqa: BLE001 - any decoder failure means "corrupt"
            log.info("tifffile could not decode: %s", exc)
    raise _corrupt(fmt)


def _needs_external(img: Image.Image, data: bytes, fmt: str) -> bool:
    if fmt == "png":
        return data[24] == 16 and data[25] in (2, 4, 6)  # 16-bit RGB, grey+alpha, RGBA
    if fmt == "tiff":
        tags = getattr(img, "tag_v2", {})
        bits = tags.get(258, (8,))
        bits = bits if isinstance(bits, tuple) else (bits,)
        fmt_code = tags.get(339, (1,))
        fmt_code = fmt_code if isinstance(fmt_code, tuple) else (fmt_code,)
        if max(bits) > 8 and (len(bits) > 1 or img.mode not in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F")):
            return True
        if 3 in fmt_code and img.mode != "F":
            return True
    return False


def _exif_orientation(img: Image.Image, notes: list[str]) -> int | None:
    try:
        value = img.getexif().get(0x0112)
    except Exception:  # noqa: BLE001 - malformed EXIF is ignored, not fatal
        notes.append("exif_unreadable")
        return None
    if value is None:
        return None
    try:
        value = int(value)
    except (TypeError, ValueError):
        notes.append("exif_orientation_invalid")
        return None
    if not 1 <= value <= 8:
        notes.append("exif_orientation_invalid")
    return value


def _decode_pillow(img: Image.Image, icc: bytes | None, notes: list[str], keep_codes: bool = False):
    """Loaded Pillow image → (rgb float32 — or codes, with ``keep_codes`` — alpha float32|None,
    bit_depth), ICC applied."""
    mode = img.mode
    alpha = None
    if mode == "1":
        img = img.convert("L")
    elif mode in ("P", "PA"):
        has_alpha = mode == "PA" or "transparency" in img.info
        img = img.convert("RGBA" if has_alpha else "RGB")
    elif mode in ("YCbCr", "RGBX"):
        img = img.convert("RGB")
    elif mode == "LAB":
        img = ImageCms.applyTransform(img, ImageCms.buildTransform(
            ImageCms.createProfile("LAB"), _SRGB_PROFILE, "LAB", "RGB"))
        icc = None
    if img.mode in ("RGBA", "LA"):
        alpha = np.asarray(img.getchannel("A"), dtype=np.float32) * np.float32(1 / 255)
        img = img.convert("RGB" if img.mode == "RGBA" else "L")
    if img.mode == "CMYK":
        if icc:
            try:
                return _to_float(np.asarray(_cms_transform(img, icc, "RGB")), keep_codes)[0], alpha, 8
            except Exception:  # noqa: BLE001 - broken profile: fall back to naive conversion
                notes.append("icc_profile_unusable_used_naive_cmyk")
        img = img.convert("RGB")
        icc = None
    if img.mode in ("RGB", "L"):
        if icc:
            try:
                img = _cms_transform(img, icc, "RGB")
            except Exception:  # noqa: BLE001
                notes.append("icc_profile_unusable_assumed_srgb")
        rgb, depth = _to_float(np.asarray(img), keep_codes)
        return _split_channels(rgb)[0], alpha, depth
    # High-precision grey: I;16*, I, F.
    arr = np.asarray(img)
    if arr.dtype.byteorder == ">":
        arr = arr.astype(arr.dtype.newbyteorder("="))
    grey, depth = _to_float(arr, keep_codes and not icc)
    rgb = _split_channels(grey)[0]
    if icc:
        rgb = _apply_icc_numpy(rgb, icc, notes)
    return rgb, alpha, depth


def _apply_icc_numpy(rgb: np.ndarray, icc: bytes, notes: list[str]) -> np.ndarray:
    try:
        return _apply_icc_float(rgb, icc)
    except Exception:  # noqa: BLE001 - not matrix-shaper, or malformed
        pass
    try:  # LittleCMS at 8 bits: colour-correct but loses the extra precision
        img = Image.fromarray(to_uint8(rgb), "RGB")
        out = _cms_transform(img, icc, "RGB")
        notes.append("icc_applied_at_8_bits")
        return np.asarray(out).astype(np.float32) * np.float32(1 / 255)
    except Exception:  # noqa: BLE001
        notes.append("icc_profile_unusable_assumed_srgb")
        return rgb


def decode(data: bytes, *, max_bytes: int = MAX_BYTES, max_pixels: int = MAX_PIXELS,
           max_memory: int | None = None, as_codes: bool = False) -> DecodedImage:
    """Validate and decode an uploaded JPEG/PNG/TIFF to float32 sRGB. Raises :class:`ImageRejected`
    (:class:`ImageTooLarge` when over ``max_bytes``, ``max_pixels`` or the ``max_memory`` budget).
    ``as_codes``: ``rgb`` holds the file's 8/16-bit code values (uint8 / uint16) wherever the
    pixels arrive as codes (no float-only colour step), saving a float copy of a large image."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError("decode() takes the file's bytes")
    data = bytes(data)
    if len(data) > max_bytes:
        raise ImageTooLarge(f"The file is {len(data) / 2**20:.1f} MB; the limit is {max_bytes / 2**20:g} MB.")
    fmt = sniff(data)
    w, h = probe_size(data, fmt)
    _check_pixels(w, h, max_pixels, fmt)
    _check_memory(data, fmt, w, h, max_memory)
    if fmt == "jpeg":
        data = _jpeg_strip_metadata(data)

    if ImageFile.LOAD_TRUNCATED_IMAGES:  # somebody switched the guard off: put it back
        log.warning("ImageFile.LOAD_TRUNCATED_IMAGES was True; resetting it to False")
        ImageFile.LOAD_TRUNCATED_IMAGES = False

    notes: list[str] = []
    try:
        with Image.open(io.BytesIO(data), formats=_PIL_FORMATS[fmt]) as img:
            _check_pixels(img.width, img.height, max_pixels, fmt)
            mode_in = img.mode
            icc = img.info.get("icc_profile") or None
            orientation = _exif_orientation(img, notes)
            if fmt == "tiff" and getattr(img, "n_frames", 1) > 1:
                notes.append("multi_page_used_first")
            external = _needs_external(img, data, fmt)
            if not external:
                img.load()
                rgb, alpha, depth = _decode_pillow(img, icc, notes, as_codes)
    except ImageRejected:
        raise
    except Image.DecompressionBombError:
        raise ImageTooLarge(f"The image is {w} × {h} pixels, which is too large to process.") from None
    except (OSError, SyntaxError, ValueError, EOFError, struct.error, IndexError, KeyError,
            TypeError, zlib.error, MemoryError) as exc:
        log.info("rejecting %s: %s: %s", fmt, type(exc).__name__, exc)
        raise _corrupt(fmt) from None

    if external:
        arr = _decode_external(data, fmt, notes)
        if arr.shape[0] * arr.shape[1] > max_pixels:
            raise _corrupt(fmt)
        if arr.dtype.byteorder == ">":
            arr = arr.astype(arr.dtype.newbyteorder("="))
        arr_f, depth = _to_float(arr, as_codes and not icc)
        rgb, alpha = _split_channels(arr_f)
        if alpha is not None and alpha.dtype != np.float32:  # alpha is always float
            alpha = _to_float(alpha)[0]
        if icc:
            rgb = _apply_icc_numpy(rgb, icc, notes)

    codes = rgb.dtype in (np.uint8, np.uint16)
    rgb = _orient(np.ascontiguousarray(rgb) if codes else np.ascontiguousarray(rgb, dtype=np.float32), orientation)
    alpha = _orient(alpha, orientation)
    return DecodedImage(rgb=rgb, alpha=alpha, format=fmt, width=rgb.shape[1], height=rgb.shape[0],
                        bit_depth=depth, mode_in=mode_in, had_icc=icc is not None,
                        exif_orientation=orientation, notes=tuple(notes))


def decode_grey(data: bytes, *, max_bytes: int = MAX_BYTES, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """A stored greyscale image (a mask) as float32 H×W in [0, 1]. An 8-bit greyscale PNG without a
    profile or an orientation — how masks are stored — decodes straight to one channel (a third of
    :func:`decode`'s work and memory: no RGB copy); anything else goes through :func:`decode`, which
    also does every check, and keeps its first channel."""
    data = bytes(data)
    if len(data) <= max_bytes and sniff(data) == "png":
        w, h = probe_size(data, "png")
        _check_pixels(w, h, max_pixels, "png")
        try:
            with Image.open(io.BytesIO(data), formats=["PNG"]) as img:
                if img.mode == "L" and not img.info.get("icc_profile") and "exif" not in img.info \
                        and (img.width, img.height) == (w, h):
                    img.load()
                    return _to_float(np.asarray(img))[0]
        except (OSError, SyntaxError, ValueError, EOFError, zlib.error):
            pass  # decode() below refuses it with the usual message
    return np.ascontiguousarray(decode(data, max_bytes=max_bytes, max_pixels=max_pixels).rgb[..., 0])


def load_path(path: str | os.PathLike, *, max_bytes: int = MAX_BYTES,
              max_pixels: int = MAX_PIXELS) -> DecodedImage:
    """:func:`decode` a file on disk (its name and extension are ignored)."""
    size = os.stat(path).st_size
    if size > max_bytes:
        raise ImageTooLarge(f"The file is {size / 2**20:.1f} MB; the limit is {max_bytes / 2**20:g} MB.")
    with open(path, "rb") as fh:
        data = fh.read(max_bytes + 1)
    return decode(data, max_bytes=max_bytes, max_pixels=max_pixels)


# ----------------------------------------------------------------------------------------------
# Proxies


def _resize_to(rgb: np.ndarray, scale: float) -> np.ndarray:
    h, w = rgb.shape[:2]
    if scale >= 1.0:
        return rgb
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    src = np.ascontiguousarray(rgb, dtype=np.float32)
    return cv2.resize(src, size, interpolation=cv2.INTER_AREA)


def make_proxy(rgb: np.ndarray, short_side: int = WORKING_SHORT_SIDE) -> np.ndarray:
    """Area-averaged downscale so the short side is ``short_side``; never upscales (returns ``rgb``).
    Floats come back as float32; 8/16-bit code values stay codes (OpenCV averages, then rounds)."""
    if short_side <= 0:
        raise ValueError("short_side must be positive")
    h, w = rgb.shape[:2]
    if min(h, w) <= short_side:
        return rgb
    codes = rgb.dtype in (np.uint8, np.uint16)
    src = np.ascontiguousarray(rgb) if codes else np.ascontiguousarray(rgb, dtype=np.float32)
    size = (short_side, round(h * short_side / w)) if w <= h else (round(w * short_side / h), short_side)
    return cv2.resize(src, size, interpolation=cv2.INTER_AREA)


def make_display_proxy(rgb: np.ndarray, long_side: int = DISPLAY_LONG_SIDE) -> np.ndarray:
    """Area-averaged downscale so the long side is at most ``long_side``; never upscales."""
    if long_side <= 0:
        raise ValueError("long_side must be positive")
    return _resize_to(rgb, long_side / max(rgb.shape[:2]))


# ----------------------------------------------------------------------------------------------
# Encoding


def _quantise(rgb: np.ndarray, top: float, dtype) -> np.ndarray:
    tmp = np.multiply(rgb, np.float32(top), dtype=np.float32)
    np.fmax(tmp, 0.0, out=tmp)  # fmax also maps NaN to 0
    np.minimum(tmp, np.float32(top), out=tmp)
    np.rint(tmp, out=tmp)
    return tmp.astype(dtype)


def to_uint8(rgb: np.ndarray) -> np.ndarray:
    """[0, 1] float → uint8 (clipped, rounded to nearest, NaN → 0)."""
    return _quantise(rgb, 255.0, np.uint8)


def to_uint16(rgb: np.ndarray) -> np.ndarray:
    """[0, 1] float → uint16 (clipped, rounded to nearest, NaN → 0)."""
    return _quantise(rgb, 65535.0, np.uint16)


def _bgr(a: np.ndarray) -> np.ndarray:
    if a.ndim == 2:
        return a
    if a.shape[2] == 3:
        return cv2.cvtColor(a, cv2.COLOR_RGB2BGR)
    if a.shape[2] == 4:
        return cv2.cvtColor(a, cv2.COLOR_RGBA2BGRA)
    raise ValueError("expected H×W, H×W×3 or H×W×4")


def _imencode(ext: str, a: np.ndarray, params: list[int]) -> bytes:
    ok, buf = cv2.imencode(ext, _bgr(a), params)
    if not ok:
        raise RuntimeError(f"OpenCV could not encode {ext}")
    return buf.tobytes()


def encode_png(rgb: np.ndarray, *, bits: int = 8, compress_level: int = 1) -> bytes:
    """PNG of an H×W×3 (or ×4 with alpha, or H×W grey) [0, 1] float image, 8 or 16 bits."""
    if bits not in (8, 16):
        raise ValueError("bits must be 8 or 16")
    a = to_uint8(rgb) if bits == 8 else to_uint16(rgb)
    return _imencode(".png", a, [cv2.IMWRITE_PNG_COMPRESSION, int(compress_level)])


def encode_jpeg(rgb: np.ndarray, quality: int = 92) -> bytes:
    """Baseline JPEG (4:2:0) of an H×W×3 [0, 1] float sRGB image."""
    return _imencode(".jpg", to_uint8(rgb), [cv2.IMWRITE_JPEG_QUALITY, int(quality)])


def encode_tiff16(rgb: np.ndarray) -> bytes:
    """16-bit RGB TIFF of an H×W×3 [0, 1] float image; :func:`decode` reads it back exactly.

    Uncompressed on purpose: the low bits of 16-bit photographs are noise, so LZW/Deflate save ~5 %
    of the size for 10-40× the time (24 MP: ~0.2 s uncompressed vs 2.2 s LZW, 8.9 s Deflate).
    """
    return _imencode(".tiff", to_uint16(rgb), [cv2.IMWRITE_TIFF_COMPRESSION, cv2.IMWRITE_TIFF_COMPRESSION_NONE])
