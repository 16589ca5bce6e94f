"""inference.imageio: safe decoding of uploads and fast encoding. Every malformed file is made here."""

from __future__ import annotations

import io
import struct
import tracemalloc
import zlib

import cv2
import numpy as np
import pytest
from PIL import Image, ImageCms, ImageFile, ImageOps

from inference import imageio as iio
from inference.imageio import ImageRejected, decode


def _save(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def _gradient(w: int = 64, h: int = 48, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.stack([x / w, y / h, 0.5 + 0.3 * np.sin(x / 5)], axis=2)
    return np.clip(img + rng.normal(0, 0.02, img.shape), 0, 1).astype(np.float32)


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _bomb_png(w: int, h: int) -> bytes:
    """A tiny, well-formed-looking PNG whose IHDR claims w × h RGB pixels."""
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(b"\x00" * 64))
            + _chunk(b"IEND", b""))


# ---- an Adobe RGB (1998)-like ICC v2 matrix-shaper profile, built byte by byte -------------------

ADOBE_D50 = np.array([[0.6097, 0.2053, 0.1492],
                      [0.3111, 0.6257, 0.0632],
                      [0.0195, 0.0609, 0.7446]])
SRGB_D50 = np.array([[0.4360747, 0.3850649, 0.1430804],
                     [0.2225045, 0.7168786, 0.0606169],
                     [0.0139322, 0.0971045, 0.7141733]])
ADOBE_GAMMA = 563 / 256  # 2.19921875, as stored in u8Fixed8


def _s15(*values: float) -> bytes:
    return struct.pack(f">{len(values)}i", *(round(v * 65536) for v in values))


def _adobe_like_icc() -> bytes:
    desc_ascii = b"Adobe RGB-like test profile\x00"
    desc = (b"desc" + b"\0" * 4 + struct.pack(">I", len(desc_ascii)) + desc_ascii
            + struct.pack(">II", 0, 0) + struct.pack(">HB", 0, 0) + b"\0" * 67)
    xyz = [b"XYZ " + b"\0" * 4 + _s15(*ADOBE_D50[:, i]) for i in range(3)]
    trc = b"curv" + b"\0" * 4 + struct.pack(">IH", 1, 563) + b"\0\0"
    tags = [(b"desc", desc), (b"wtpt", b"XYZ " + b"\0" * 4 + _s15(0.9642, 1.0, 0.8249)),
            (b"rXYZ", xyz[0]), (b"gXYZ", xyz[1]), (b"bXYZ", xyz[2]),
            (b"rTRC", trc), (b"gTRC", trc), (b"bTRC", trc),
            (b"cprt", b"text" + b"\0" * 4 + b"no copyright\x00")]
    offset = 128 + 4 + 12 * len(tags)
    table, blob = b"", b""
    for sig, body in tags:
        body += b"\0" * (-len(body) % 4)
        table += struct.pack(">4sII", sig, offset + len(blob), len(body))
        blob += body
    size = offset + len(blob)
    header = (struct.pack(">I", size) + b"lcms" + struct.pack(">I", 0x02100000) + b"mntr" + b"RGB " + b"XYZ "
              + b"\0" * 12 + b"acsp" + b"\0" * 4 + b"\0" * 4 + b"\0" * 8 + b"\0" * 8 + struct.pack(">I", 0)
              + _s15(0.9642, 1.0, 0.8249) + b"\0" * 4 + b"\0" * 16 + b"\0" * 28)
    assert len(header) == 128
    return header + struct.pack(">I", len(tags)) + table + blob


def _adobe_to_srgb(rgb: np.ndarray) -> np.ndarray:
    """Independent reference: Adobe-like (gamma 2.2, D50 colorants) → sRGB, relative colorimetric."""
    lin = np.power(rgb.astype(np.float64), ADOBE_GAMMA) @ (np.linalg.inv(SRGB_D50) @ ADOBE_D50).T
    lin = np.clip(lin, 0, 1)
    return np.where(lin <= 0.0031308, 12.92 * lin, 1.055 * lin ** (1 / 2.4) - 0.055)


# ---- sniffing and refusal ------------------------------------------------------------------------


def test_empty_bytes_rejected():
    with pytest.raises(ImageRejected, match="empty"):
        decode(b"")


def test_plain_text_named_jpg_is_not_an_image(tmp_path):
    path = tmp_path / "holiday.jpg"
    path.write_text("Dear admin,\nthis is definitely a photo.\n")
    with pytest.raises(ImageRejected) as err:
        iio.load_path(path)
    assert "not a JPEG, PNG or TIFF image" in str(err.value)
    assert "plain text" in str(err.value)


@pytest.mark.parametrize(("data", "what"), [
    (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "PDF"),
    (b"RIFF\x24\x00\x00\x00WEBPVP8 ", "WebP"),
    (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", "HEIC"),
    (b"\x00\x01\x02\x03\xfe\xff random binary", "not recognised"),
])
def test_sniff_names_other_formats(data, what):
    with pytest.raises(ImageRejected, match=what):
        iio.sniff(data)


def test_gif_refused_with_clear_message():
    gif = _save(Image.new("RGB", (8, 8), (255, 0, 0)), "GIF")
    with pytest.raises(ImageRejected) as err:
        decode(gif)
    assert str(err.value) == "The file is not a JPEG, PNG or TIFF image (it looks like a GIF image)."


def test_sniff_ignores_names_and_accepts_the_three_formats():
    rgb = np.zeros((4, 4, 3), np.float32)
    assert iio.sniff(iio.encode_png(rgb)) == "png"
    assert iio.sniff(iio.encode_jpeg(rgb)) == "jpeg"
    assert iio.sniff(iio.encode_tiff16(rgb)) == "tiff"


def test_over_max_bytes_rejected_before_parsing(monkeypatch):
    data = iio.encode_png(_gradient())
    monkeypatch.setattr(iio, "sniff", lambda _d: pytest.fail("parsed an over-size file"))
    with pytest.raises(ImageRejected, match=r"the limit is .* MB"):
        decode(data, max_bytes=len(data) - 1)


def test_truncated_png_rejected():
    data = iio.encode_png(_gradient(200, 150), compress_level=0)
    with pytest.raises(ImageRejected) as err:
        decode(data[: len(data) * 2 // 3])
    assert str(err.value) == "The PNG file is truncated or corrupt."
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


def test_truncated_jpeg_rejected_even_if_someone_enabled_truncated_loading(monkeypatch):
    data = iio.encode_jpeg(_gradient(200, 150))
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    with pytest.raises(ImageRejected, match="JPEG file is truncated"):
        decode(data[: len(data) // 2])


def test_png_bomb_refused_from_the_header_without_allocating(monkeypatch):
    bomb = _bomb_png(40_000, 40_000)
    assert len(bomb) < 200
    # Our header probe must refuse it before Pillow (or OpenCV) even opens the file.
    monkeypatch.setattr(iio.Image, "open", lambda *a, **k: pytest.fail("Pillow opened a bomb"))
    monkeypatch.setattr(iio.cv2, "imdecode", lambda *a, **k: pytest.fail("OpenCV decoded a bomb"))
    limit_before = Image.MAX_IMAGE_PIXELS
    tracemalloc.start()
    with pytest.raises(ImageRejected) as err:
        decode(bomb)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert str(err.value) == "The image is 40000 × 40000 pixels; the limit is 100 megapixels."
    assert peak < 50 * 2**20
    assert Image.MAX_IMAGE_PIXELS == limit_before  # Pillow's own guard untouched


def test_pixel_limit_is_ours_not_only_pillows():
    # 2000 × 2000 is far below Pillow's bomb threshold: only our max_pixels can refuse it.
    with pytest.raises(ImageRejected, match="2000 × 2000 pixels; the limit is 1 megapixels"):
        decode(_bomb_png(2000, 2000), max_pixels=1_000_000)
    with pytest.raises(ImageRejected, match="12 × 10 pixels"):
        decode(iio.encode_jpeg(np.zeros((10, 12, 3), np.float32)), max_pixels=100)
    with pytest.raises(ImageRejected, match="12 × 10 pixels"):
        decode(iio.encode_tiff16(np.zeros((10, 12, 3), np.float32)), max_pixels=100)


def test_16bit_png_bomb_never_reaches_opencv(monkeypatch):
    ihdr = struct.pack(">IIBBBBB", 30_000, 30_000, 16, 2, 0, 0, 0)
    bomb = b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(b"")) + _chunk(b"IEND", b"")
    monkeypatch.setattr(iio.cv2, "imdecode", lambda *a: pytest.fail("OpenCV decoded a bomb"))
    with pytest.raises(ImageRejected, match="30000 × 30000"):
        decode(bomb)


def test_bad_ihdr_crc_rejected():
    bomb = bytearray(_bomb_png(10, 10))
    bomb[20] ^= 0xFF
    with pytest.raises(ImageRejected, match="PNG file is corrupt"):
        decode(bytes(bomb))


# ---- pixel formats -------------------------------------------------------------------------------


def test_cmyk_jpeg_pure_cyan_decodes_to_rgb_cyan():
    # Pillow writes Adobe-style inverted CMYK; its naive CMYK→RGB is used when no profile is embedded.
    data = _save(Image.new("CMYK", (32, 32), (255, 0, 0, 0)), "JPEG", quality=95)
    d = decode(data)
    assert d.mode_in == "CMYK" and d.rgb.shape == (32, 32, 3)
    np.testing.assert_allclose(d.rgb[16, 16], [0, 1, 1], atol=0.03)
    black = decode(_save(Image.new("CMYK", (16, 16), (0, 0, 0, 255)), "JPEG", quality=95))
    np.testing.assert_allclose(black.rgb[8, 8], [0, 0, 0], atol=0.03)


def test_16bit_tiff_keeps_precision():
    rng = np.random.default_rng(1)
    a = rng.integers(0, 65536, size=(30, 40, 3), dtype=np.uint16)
    ok, buf = cv2.imencode(".tiff", a[..., ::-1].copy())  # OpenCV: BGR order, LZW compression
    assert ok
    d = decode(buf.tobytes())
    assert d.format == "tiff" and d.bit_depth == 16 and (d.width, d.height) == (40, 30)
    assert np.abs(d.rgb.astype(np.float64) * 65535 - a).max() < 0.5


def test_16bit_tiff_written_by_tifffile_and_multipage_uses_first_page():
    tifffile = pytest.importorskip("tifffile")
    rng = np.random.default_rng(2)
    pages = rng.integers(0, 65536, size=(2, 20, 24, 3), dtype=np.uint16)
    buf = io.BytesIO()
    with tifffile.TiffWriter(buf) as tw:
        for page in pages:
            tw.write(page, photometric="rgb")
    d = decode(buf.getvalue())
    assert d.bit_depth == 16
    assert np.abs(d.rgb.astype(np.float64) * 65535 - pages[0]).max() < 0.5
    assert "multi_page_used_first" in d.notes


def test_16bit_png_keeps_precision():
    rng = np.random.default_rng(3)
    a = rng.integers(0, 65536, size=(30, 40, 3), dtype=np.uint16)
    d = decode(cv2.imencode(".png", a[..., ::-1].copy())[1].tobytes())
    assert d.bit_depth == 16 and d.format == "png"
    assert np.abs(d.rgb.astype(np.float64) * 65535 - a).max() < 0.5


def test_16bit_greyscale_png():
    g = np.random.default_rng(4).integers(0, 65536, size=(20, 30), dtype=np.uint16)
    d = decode(cv2.imencode(".png", g)[1].tobytes())
    assert d.bit_depth == 16
    assert np.abs(d.rgb[..., 1].astype(np.float64) * 65535 - g).max() < 0.5
    assert np.array_equal(d.rgb[..., 0], d.rgb[..., 2])


def test_greyscale_gives_three_equal_channels():
    g = (np.arange(256, dtype=np.uint8).reshape(16, 16))
    d = decode(_save(Image.fromarray(g, "L"), "PNG"))
    assert d.mode_in == "L" and d.bit_depth == 8 and d.alpha is None
    assert np.array_equal(d.rgb[..., 0], d.rgb[..., 1]) and np.array_equal(d.rgb[..., 1], d.rgb[..., 2])
    np.testing.assert_allclose(d.rgb[..., 0] * 255, g, atol=1e-4)


def test_rgba_png_alpha_kept_separately_not_premultiplied():
    a = np.zeros((8, 8, 4), np.uint8)
    a[..., :3] = (200, 100, 50)
    a[:, :4, 3] = 0
    a[:, 4:, 3] = 128
    d = decode(_save(Image.fromarray(a, "RGBA"), "PNG"))
    assert d.alpha is not None and d.alpha.shape == (8, 8)
    np.testing.assert_allclose(d.alpha[0, :4], 0)
    np.testing.assert_allclose(d.alpha[0, 4:], 128 / 255)
    np.testing.assert_allclose(d.rgb[0, 0] * 255, (200, 100, 50), atol=1e-3)  # colour under alpha 0 kept


def test_palette_with_transparency():
    img = Image.new("P", (4, 4), 1)
    img.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    img.putpixel((0, 0), 0)
    d = decode(_save(img, "PNG", transparency=0))
    assert d.mode_in == "P" and d.alpha is not None
    assert d.alpha[0, 0] == 0 and d.alpha[1, 1] == 1
    np.testing.assert_allclose(d.rgb[1, 1], (1, 0, 0))
    assert decode(_save(img, "PNG")).alpha is None


def test_exif_orientation_6_rotates_and_moves_the_corner_marker():
    rgb = np.zeros((40, 60, 3), np.float32)  # stored 60 wide × 40 high
    rgb[:8, :8] = (1, 0, 0)  # red marker in the stored top-left corner
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    data = _save(Image.fromarray(iio.to_uint8(rgb)), "JPEG", quality=95, exif=exif.tobytes())
    d = decode(data)
    assert d.exif_orientation == 6
    assert (d.width, d.height) == (40, 60) and d.rgb.shape == (60, 40, 3)
    np.testing.assert_allclose(d.rgb[3, 36], (1, 0, 0), atol=0.1)  # now the top-right corner
    assert d.rgb[3, 3].max() < 0.1 and d.rgb[56, 36].max() < 0.1


@pytest.mark.parametrize("orientation", range(1, 9))
def test_orientation_matches_pillow_exif_transpose(orientation):
    img = Image.fromarray(iio.to_uint8(_gradient(7, 5)))
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = _save(img, "PNG", exif=exif.tobytes())
    expected = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB"))
    d = decode(data)
    assert d.exif_orientation == orientation
    assert np.array_equal(iio.to_uint8(d.rgb), expected)


# ---- ICC -----------------------------------------------------------------------------------------


def test_embedded_srgb_profile_leaves_values_unchanged():
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    a = iio.to_uint8(_gradient())
    d = decode(_save(Image.fromarray(a), "PNG", icc_profile=srgb))
    assert d.had_icc and d.notes == ()
    assert np.abs(iio.to_uint8(d.rgb).astype(int) - a).max() <= 1


def test_adobe_rgb_like_profile_is_converted_to_srgb_in_8_and_16_bits():
    icc = _adobe_like_icc()
    colour = np.array([0.45, 0.6, 0.35])
    expected = _adobe_to_srgb(colour)
    assert np.all((expected > 0.02) & (expected < 0.98))  # in gamut: a fair test of the maths
    assert np.abs(expected - colour).max() > 0.03  # and visibly different from "ignore the profile"

    img8 = Image.new("RGB", (4, 4), tuple(int(round(c * 255)) for c in colour))
    d8 = decode(_save(img8, "PNG", icc_profile=icc))
    assert d8.had_icc and d8.notes == ()
    np.testing.assert_allclose(d8.rgb[1, 1], expected, atol=2.5 / 255)

    a16 = np.broadcast_to(np.round(colour * 65535).astype(np.uint16), (4, 4, 3)).copy()
    # 16-bit PNG with an iCCP chunk: OpenCV reads the pixels, our float matrix-shaper path converts.
    png16 = cv2.imencode(".png", a16[..., ::-1].copy())[1].tobytes()
    iccp = _chunk(b"iCCP", b"adobe-like\x00\x00" + zlib.compress(icc))
    png16 = png16[:33] + iccp + png16[33:]
    d16 = decode(png16)
    assert d16.bit_depth == 16 and d16.had_icc and d16.notes == ()
    np.testing.assert_allclose(d16.rgb[1, 1], expected, atol=2e-4)


def test_corrupt_icc_profile_falls_back_to_srgb_with_a_note():
    a = iio.to_uint8(_gradient())
    for fmt in ("PNG", "JPEG"):
        d = decode(_save(Image.fromarray(a), fmt, icc_profile=b"this is not an ICC profile" * 8))
        plain = decode(_save(Image.fromarray(a), fmt))  # same pixels, no profile at all
        assert d.had_icc and not plain.had_icc
        assert "icc_profile_unusable_assumed_srgb" in d.notes
        assert np.array_equal(d.rgb, plain.rgb)


# ---- proxies and encoding ------------------------------------------------------------------------


def test_proxy_sizes_and_never_upscale():
    assert iio.WORKING_SHORT_SIDE == 360 and iio.DISPLAY_LONG_SIDE == 1600
    land = np.zeros((400, 600, 3), np.float32)
    assert iio.make_proxy(land, 360).shape == (360, 540, 3)
    assert iio.make_proxy(land.transpose(1, 0, 2), 360).shape == (540, 360, 3)
    small = np.zeros((200, 300, 3), np.float32)
    assert iio.make_proxy(small, 360).shape == (200, 300, 3)
    assert iio.make_display_proxy(np.zeros((2000, 3000, 3), np.float32)).shape == (1067, 1600, 3)
    assert iio.make_display_proxy(small).shape == (200, 300, 3)


def test_proxy_is_area_average():
    rgb = np.zeros((720, 720, 3), np.float32)
    rgb[::2, ::2] = 1.0  # fine checkerboard-ish pattern: area averaging gives its mean, 0.25
    p = iio.make_proxy(rgb, 360)
    assert p.dtype == np.float32
    np.testing.assert_allclose(p, 0.25, atol=1e-6)


def test_to_uint8_rounds_and_clips():
    x = np.array([-1.0, 0.0, 0.5 / 255, 0.499 / 255, 0.5, 1.0, 2.0, np.nan], np.float32)
    assert iio.to_uint8(x).tolist() == [0, 0, 0, 0, 128, 255, 255, 0]  # rint: half to even


def test_png_8bit_round_trip():
    rgb = _gradient()
    d = decode(iio.encode_png(rgb))
    assert d.bit_depth == 8
    assert np.array_equal(iio.to_uint8(d.rgb), iio.to_uint8(rgb))


def test_png_16bit_round_trip():
    rgb = _gradient()
    d = decode(iio.encode_png(rgb, bits=16))
    assert d.bit_depth == 16
    assert np.abs(d.rgb - rgb).max() <= 0.5 / 65535 + 1e-7


def test_png_rgba_round_trip():
    rgba = np.concatenate([_gradient(), np.full((48, 64, 1), 0.5, np.float32)], axis=2)
    d = decode(iio.encode_png(rgba))
    np.testing.assert_allclose(d.alpha, 128 / 255)
    assert np.array_equal(iio.to_uint8(d.rgb), iio.to_uint8(rgba[..., :3]))


def test_tiff16_round_trip():
    rgb = _gradient()
    d = decode(iio.encode_tiff16(rgb))
    assert d.format == "tiff" and d.bit_depth == 16
    assert np.abs(d.rgb - rgb).max() <= 0.5 / 65535 + 1e-7


def test_jpeg_round_trip():
    rgb = _gradient(128, 96)
    d = decode(iio.encode_jpeg(rgb, quality=95))
    assert d.format == "jpeg" and d.bit_depth == 8 and d.exif_orientation is None
    assert np.abs(d.rgb - rgb).mean() < 0.02


# ---- as_codes: the file's code values, for callers that work at full size in integers -------------


def _codes_cases():
    grad = iio.to_uint8(_gradient(9, 7))
    exif = Image.Exif()
    exif[0x0112] = 6
    rng = np.random.default_rng(5)
    a16 = rng.integers(0, 65536, size=(6, 8, 3), dtype=np.uint16)
    g16 = rng.integers(0, 65536, size=(6, 8), dtype=np.uint16)
    rgba = np.dstack([grad, np.full(grad.shape[:2], 90, np.uint8)])
    icc16 = cv2.imencode(".png", a16[..., ::-1].copy())[1].tobytes()
    icc16 = icc16[:33] + _chunk(b"iCCP", b"adobe-like\x00\x00" + zlib.compress(_adobe_like_icc())) + icc16[33:]
    return {  # name: (file bytes, dtype decode(as_codes=True) must give)
        "jpeg rotated by EXIF": (_save(Image.fromarray(grad), "JPEG", quality=90, exif=exif.tobytes()), np.uint8),
        "8-bit grey png": (_save(Image.fromarray(grad[..., 0], "L"), "PNG"), np.uint8),
        "8-bit png with a profile": (_save(Image.fromarray(grad), "PNG", icc_profile=_adobe_like_icc()), np.uint8),
        "rgba png": (_save(Image.fromarray(rgba, "RGBA"), "PNG"), np.uint8),
        "16-bit png": (cv2.imencode(".png", a16[..., ::-1].copy())[1].tobytes(), np.uint16),
        "16-bit grey png": (cv2.imencode(".png", g16)[1].tobytes(), np.uint16),
        "16-bit png with a profile (converted in float)": (icc16, np.float32),
    }


@pytest.mark.parametrize("name", list(_codes_cases()))
def test_as_codes_gives_the_code_values_the_float_decode_scales(name):
    data, dtype = _codes_cases()[name]
    plain, codes = decode(data), decode(data, as_codes=True)
    assert codes.rgb.dtype == dtype and codes.rgb.shape == plain.rgb.shape
    assert (codes.bit_depth, codes.exif_orientation, codes.notes) == (plain.bit_depth, plain.exif_orientation, plain.notes)
    if dtype == np.float32:
        assert np.array_equal(codes.rgb, plain.rgb)
    else:  # the same scaling decode() applies: the pixels are exactly the float decode's
        top = np.float32(1 / (255 if dtype == np.uint8 else 65535))
        assert np.array_equal(np.multiply(codes.rgb, top, dtype=np.float32), plain.rgb)
    if plain.alpha is not None:
        assert codes.alpha.dtype == np.float32 and np.array_equal(codes.alpha, plain.alpha)


def test_integer_proxy_is_the_area_average_rounded():
    a = iio.to_uint8(_gradient(64, 48))
    small = iio.make_proxy(a, 12)
    assert small.dtype == np.uint8 and small.shape == (12, 16, 3)
    exact = a.astype(np.float64).reshape(12, 4, 16, 4, 3).mean(axis=(1, 3))
    assert np.abs(small - exact).max() <= 0.5 + 1e-6
