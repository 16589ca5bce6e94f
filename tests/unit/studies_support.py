"""Study data for the studies tests: an items archive, and a study opened through the researcher API."""

from __future__ import annotations

import io
import zipfile

import numpy as np
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.conftest import png_bytes

METHODS = ["AlphaNet", "BetaLUT", "GammaHRP"]


def items_archive(items: int = 4, subsets=("S1", "S2")) -> bytes:
    """A zip of ``items`` items laid out as subset/item/input.png + subset/item/<method>.png."""
    rng = np.random.default_rng(0)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for k in range(items):
            sub = subsets[k % len(subsets)]
            base = (rng.random((40, 32, 3)) * 255).astype(np.uint8)
            z.writestr(f"{sub}/item{k}/input.png", png_bytes(base))
            for j, m in enumerate(METHODS):
                z.writestr(f"{sub}/item{k}/{m}.png", png_bytes(np.clip(base.astype(int) + 20 * j, 0, 255)
                                                              .astype(np.uint8)))
    return buf.getvalue()


def open_study(client, **fields) -> dict:
    """Create a study with ``fields`` as ``client`` (a researcher), import ``items_archive()`` and open
    it; returns {"id", "public_id"}."""
    r = client.post("/api/studies/", {"title": "T", **fields}, format="json")
    assert r.status_code == 201, r.content
    sid = r.json()["id"]
    r = client.post(f"/api/studies/{sid}/import/", {"archive": SimpleUploadedFile("s.zip", items_archive())},
                    format="multipart")
    assert r.status_code == 201 and r.json()["added"] == 4, r.content
    r = client.post(f"/api/studies/{sid}/status/", {"status": "open"}, format="json")
    assert r.status_code == 200, r.content
    return {"id": sid, "public_id": r.json()["public_id"]}
