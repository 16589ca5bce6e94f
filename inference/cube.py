"""Export the 3-D LUT a trained ``retouch.lut`` fuses for an image as a ``.cube`` file (for
Resolve, Photoshop, Lightroom profiles, ffmpeg ``lut3d``).

    python -m inference.cube MODEL_DIR IMAGE --out look.cube

MODEL_DIR is a ``retouch.lut`` version folder or its engine folder (newest version). The LUT is
the one the engine applies to that image at full resolution (``LUT_3D_SIZE`` = the model's lattice,
33 by default; domain [0, 1], sRGB-encoded in and out).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from inference import modelstore
from inference.evaluate import version_folder
from inference.imagefiles import read_rgb
from inference.models.lut import LutNet, write_cube


def export_cube(model_dir: str | Path, image: str | Path, out: str | Path) -> Path:
    folder = version_folder(model_dir)
    model, card = modelstore.load_module(folder)
    if not isinstance(model, LutNet):
        raise ValueError(f"{folder} holds a {card['architecture']} model, not retouch.lut")
    write_cube(out, model.fused_lut(read_rgb(image)),
               title=f"retouch.lut v{card['version']} for {Path(image).name}")
    return Path(out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m inference.cube", formatter_class=argparse.ArgumentDefaultsHelpFormatter,
                                description="The fused 3-D LUT of a trained retouch.lut for one image, as .cube.")
    p.add_argument("model_dir", type=Path, help="retouch.lut version folder (or engine folder: newest)")
    p.add_argument("image", type=Path, help="the photo (PNG, JPEG or TIFF, 8 or 16 bit)")
    p.add_argument("--out", type=Path, default=Path("look.cube"), help="the .cube file to write")
    args = p.parse_args(argv)
    try:
        path = export_cube(args.model_dir, args.image, args.out)
    except (modelstore.ModelNotFound, FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
