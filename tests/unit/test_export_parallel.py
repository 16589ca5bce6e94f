"""The dataset export writes photos on several threads: the same files, byte for byte, as one thread,
and the manifest's checksums are the files' (docs/annotation.md, *Export*)."""

from __future__ import annotations

import hashlib
import json

import pytest

from tests.unit.annotation_support import accept_all, make_project, make_workspace


def _frozen(make_user):
    from webapp.annotation import services

    ws = make_workspace(make_user, groups=2, per_group=3)
    project = make_project(ws, split_seed=1)
    accept_all(ws, project)
    services.freeze(project=project, by=ws.researcher)
    return project


@pytest.mark.parametrize("compression", ["none", "deflate"])
def test_threaded_export_writes_the_same_files_as_one_thread(make_user, tmp_path, monkeypatch, compression):
    from webapp.annotation import export

    project = _frozen(make_user)
    manifests = {}
    for workers in (1, 3):
        monkeypatch.setattr(export, "PHOTO_WORKERS", workers)
        out = tmp_path / f"w{workers}"
        manifests[workers] = export.export_dataset(project, out, ["360p", "full"], tiff_compression=compression)
        assert manifests[workers]["tiff_compression"] == compression
        for rel, digest in manifests[workers]["checksums"].items():  # each checksum is the file's
            assert hashlib.sha256((out / rel).read_bytes()).hexdigest() == digest, rel
        assert json.loads((out / "manifest.json").read_text())["checksums"] == manifests[workers]["checksums"]
    assert manifests[1]["checksums"] == manifests[3]["checksums"]
    assert sum(rel.endswith(".tif") for rel in manifests[3]["checksums"]) == 6 * 4 * 2  # photos × (source + 3) × sizes
    rows = (tmp_path / "w3" / "groups.csv").read_text().splitlines()[1:]
    assert [r.split(",")[:2] for r in rows] == [[g, i] for g in "01" for i in "012"]  # photo order kept


def test_a_failing_photo_fails_the_export(make_user, tmp_path, monkeypatch):
    from webapp.annotation import export

    project = _frozen(make_user)
    calls = []

    def broken(self, name, *args):
        calls.append(name)
        raise OSError(f"disk full while writing {name}")

    monkeypatch.setattr(export._Writer, "photo", broken)
    with pytest.raises(OSError, match="disk full"):
        export.export_dataset(project, tmp_path / "out", ["360p"])
    assert not (tmp_path / "out" / "manifest.json").exists()
