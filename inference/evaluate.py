"""Evaluate a trained model on a PPR10K-layout folder against the untouched input and the classical
engine, the way the papers' tables do.

    python -m inference.evaluate MODEL_DIR --data DIR --expert a [--split val] [--json]

MODEL_DIR is a version folder (``MODEL_DIR/<engine>/<version>``, holding ``card.json``) or an
engine folder (its newest version is used). Every image of the split (360p) is run through the
model at its own resolution, and the item-1 metrics (:mod:`inference.metrics`: PSNR, ΔE76,
PSNR^HC, ΔE^HC, SSIM, M_GLC) are computed against the expert's targets for three methods: the
model, the untouched input and ``retouch.auto``. Each mean comes with a 95 % bootstrap interval that
resamples whole groups (images of one shoot are not independent). The targets' own M_GLC is
reported too: a model should be about as consistent as the expert.

JSON: ``{"model": {...}, "input": {...}, "retouch.auto": {...}, "meta": {...}}``; each method has
the metric means, ``glc``, ``n_images``, ``n_groups``, ``ci95`` (metric → [low, high]) and
``per_image`` rows.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from inference import modelstore
from inference.datasets import EXPERTS, PPR10KFolder
from inference.engines.retouch import AutoRetouch
from inference.metrics import bootstrap_over_groups, group_glc, image_metrics, summarise

METRICS = ("psnr", "delta_e", "psnr_hc", "delta_e_hc", "ssim", "glc")
LABELS = {"psnr": "PSNR", "delta_e": "ΔE", "psnr_hc": "PSNR^HC", "delta_e_hc": "ΔE^HC", "ssim": "SSIM",
          "glc": "M_GLC"}


def version_folder(path: str | Path) -> Path:
    """A version folder, given it or its engine folder (newest version)."""
    path = Path(path)
    if (path / modelstore.CARD).is_file():
        return path
    version = modelstore.resolve(path.parent, path.name)  # raises ModelNotFound
    return path / version


def summary(rows: list[dict], boot: int, seed: int) -> dict:
    out = summarise(rows)
    out["ci95"] = {k: list(bootstrap_over_groups(rows, k, n=boot, seed=seed)) for k in METRICS}
    return out


def evaluate(model_dir: str | Path, data: str | Path, expert: str = "a", split: str = "val",
             boot: int = 1000, seed: int = 0, official: bool = False, device: str = "cpu") -> dict:
    folder = version_folder(model_dir)
    model, card = modelstore.load_module(folder, device)
    samples = PPR10KFolder(data, split, expert)
    auto = AutoRetouch()
    rows: dict[str, list[dict]] = {"model": [], "input": [], "retouch.auto": []}
    targets: dict[str, list] = {}
    seconds = 0.0
    for s in samples:
        t0 = time.perf_counter()
        pred, _ = model.predict(s["source"], s["mask"])
        seconds += time.perf_counter() - t0
        outputs = {"model": pred, "input": s["source"],
                   "retouch.auto": auto.run({"image": s["source"], "mask": s["mask"]}, {})["image"]}
        for method, image in outputs.items():
            rows[method].append({"name": s["name"], "group": s["group"],
                                 **image_metrics(image, s["target"], s["mask"], official)})
        targets.setdefault(s["group"], []).append(s["target"])
    result = {method: summary(r, boot, seed) for method, r in rows.items()}
    result["meta"] = {"model": f"{card['engine']} v{card['version']}", "folder": str(folder),
                      "data": str(data), "split": split, "expert": expert, "official": official,
                      "target_glc": group_glc(targets, official),
                      "model_ms_per_image": round(1000 * seconds / max(1, len(samples)), 1)}
    return result


def _fmt(value, digits: int = 3) -> str:
    return "–" if value is None or value != value else f"{value:.{digits}f}"


def format_table(result: dict) -> str:
    head = f"{'method':<14}" + "".join(f"{LABELS[k]:>24}" for k in METRICS)
    lines = [head, "-" * len(head)]
    for method in ("input", "retouch.auto", "model"):
        r = result[method]
        cells = []
        for k in METRICS:
            lo, hi = r["ci95"][k]
            cells.append(f"{_fmt(r[k]):>8} [{_fmt(lo)}, {_fmt(hi)}]".rjust(24))
        lines.append(f"{method:<14}" + "".join(cells))
    meta = result["meta"]
    lines.append(f"model = {meta['model']}; {result['model']['n_images']} images in "
                 f"{result['model']['n_groups']} groups ({meta['split']}, expert {meta['expert']}); "
                 f"targets' M_GLC {_fmt(meta['target_glc'])}; 95 % bootstrap intervals over groups")
    return "\n".join(lines)


def _finite(value):
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m inference.evaluate",
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter,
                                description="Metrics of a trained model, the untouched input and "
                                            "retouch.auto on a PPR10K-layout split (docs/models.md).")
    p.add_argument("model_dir", type=Path, help="version folder (with card.json) or engine folder")
    p.add_argument("--data", required=True, type=Path, help="PPR10K-layout folder")
    p.add_argument("--expert", default="a", choices=EXPERTS, help="whose targets to compare with")
    p.add_argument("--split", default="val", choices=("train", "val"), help="which split")
    p.add_argument("--official", action="store_true", help="PPR10K's released metric script's conventions")
    p.add_argument("--boot", type=int, default=1000, help="bootstrap resamples")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        result = evaluate(args.model_dir, args.data, args.expert, args.split, args.boot, args.seed,
                          args.official)
    except (modelstore.ModelNotFound, FileNotFoundError, ValueError, NotImplementedError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(_finite(result), indent=1, allow_nan=False) if args.json else format_table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
