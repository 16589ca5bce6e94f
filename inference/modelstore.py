"""The model directory: trained weights as ``MODEL_DIR/<engine>/<version>/weights.safetensors`` plus
a ``card.json`` that says what they are.

A card holds the architecture name and its constructor arguments, the SHA-256 of the weights file,
the input conventions, the training data (manifest hash, split, expert slot), the losses, the
held-out metrics and the commit the weights were trained at. Loading (:func:`load_module`) builds
the module from code with the card's arguments, checks the hash, reads the tensors with
``safetensors`` and calls ``load_state_dict(strict=True)``: nothing is ever unpickled, so a weights
file can carry no code.

Listing versions (:func:`versions`, :func:`resolve`) reads only the file system, so the web tier
can refuse a job for missing weights without importing torch.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any

WEIGHTS = "weights.safetensors"
CARD = "card.json"
_VERSION_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class ModelNotFound(LookupError):
    """No usable weights for an engine (or for the version asked for); the message says which."""


def default_model_dir() -> Path:
    """``$MODEL_DIR``, else ``$DATA_DIR/models``, else ``./var/models`` (the Django default)."""
    if os.environ.get("MODEL_DIR"):
        return Path(os.environ["MODEL_DIR"])
    return Path(os.environ.get("DATA_DIR", "var")) / "models"


def _version_key(name: str) -> tuple:
    # natural order: "2" < "10", "1.9" < "1.10"
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in re.split(r"[._-]", name))


def versions(model_dir: str | Path | None, engine: str) -> list[str]:
    """The versions of ``engine`` that have both a card and a weights file, oldest first."""
    root = Path(model_dir) / engine if model_dir else None
    if root is None or not root.is_dir():
        return []
    found = [p.name for p in root.iterdir()
             if _VERSION_RE.match(p.name) and (p / CARD).is_file() and (p / WEIGHTS).is_file()]
    return sorted(found, key=_version_key)


def resolve(model_dir: str | Path | None, engine: str, version: str | None = None) -> str:
    """The version to run: ``version`` if it exists, else the newest; raises ModelNotFound."""
    found = versions(model_dir, engine)
    if version is not None:
        if version in found:
            return version
        available = f"available: {', '.join(found)}" if found else "it has no trained versions"
        raise ModelNotFound(f"engine {engine!r} has no version {version!r} in the model directory "
                            f"{model_dir} ({available})")
    if not found:
        raise ModelNotFound(
            f"engine {engine!r} has no trained weights in the model directory {model_dir}; train "
            f"one with `python -m inference.train {engine} --data DIR --expert a --out {model_dir}`")
    return found[-1]


def version_dir(model_dir: str | Path, engine: str, version: str) -> Path:
    if not _VERSION_RE.match(version):
        raise ValueError(f"invalid version name {version!r} (letters, digits, '.', '_', '-')")
    return Path(model_dir) / engine / version


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_card(path: str | Path) -> dict[str, Any]:
    """The card of a version folder (``path`` is the folder or the card file)."""
    path = Path(path)
    return json.loads((path / CARD if path.is_dir() else path).read_text())


# --- tensors: safetensors only (deferred imports: torch takes seconds to load; listing needs none)

def save_tensors(path: str | Path, tensors: dict[str, Any], metadata: dict[str, str] | None = None) -> str:
    """Write ``tensors`` (name → torch tensor) atomically; returns the file's SHA-256."""
    from safetensors.torch import save_file

    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, str(tmp), metadata=metadata)
    os.replace(tmp, path)
    return sha256_file(path)


def load_tensors(path: str | Path, sha256: str | None = None) -> dict[str, Any]:
    """Read a safetensors file (after checking its SHA-256 when given) into CPU tensors."""
    from safetensors.torch import load_file

    if sha256 is not None:
        actual = sha256_file(path)
        if actual != sha256:
            raise ValueError(f"{path}: SHA-256 {actual} does not match the card's {sha256}; "
                             "the weights were changed or damaged")
    return load_file(str(path), device="cpu")


def write_version(model_dir: str | Path, engine: str, version: str, module: Any,
                  card: dict[str, Any]) -> Path:
    """Save ``module``'s state dict and its card as ``model_dir/engine/version``; returns the folder."""
    folder = version_dir(model_dir, engine, version)
    folder.mkdir(parents=True, exist_ok=True)
    digest = save_tensors(folder / WEIGHTS, module.state_dict())
    card = {**card, "engine": engine, "version": version, "weights": WEIGHTS, "sha256": digest}
    tmp = folder / (CARD + ".tmp")
    tmp.write_text(json.dumps(card, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, folder / CARD)
    return folder


def load_module(folder: str | Path, device: str = "cpu"):
    """Build the card's architecture from code and load its weights strictly; returns (module, card).

    Raises ValueError when the hash does not match or the tensors do not fit the architecture.
    """
    from inference.models import build  # deferred: the model package imports torch

    folder = Path(folder)
    card = read_card(folder)
    module = build(card["architecture"], **card.get("arguments", {}))
    state = load_tensors(folder / card.get("weights", WEIGHTS), card["sha256"])
    module.load_state_dict(state, strict=True)
    module.eval()
    return module.to(device), card
