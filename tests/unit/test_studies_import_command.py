"""``manage.py import_study_items <study_id> <folder-or-zip>``."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from tests.conftest import png_bytes

pytestmark = pytest.mark.django_db

METHODS = ["LUT", "Ours"]


def _image(k: int) -> bytes:
    rng = np.random.default_rng(k)
    return png_bytes((rng.random((30, 24, 3)) * 255).astype(np.uint8))


def _folder(root, items=3) -> None:
    for k in range(items):
        d = root / ("indoor" if k % 2 else "outdoor") / f"face{k}"
        d.mkdir(parents=True)
        (d / "input.png").write_bytes(_image(k))
        for j, m in enumerate(METHODS):
            (d / f"{m}.png").write_bytes(_image(10 * k + j))
    (root / ".DS_Store").write_bytes(b"junk")
    (root / ".hidden" / "x").mkdir(parents=True)
    (root / ".hidden" / "x" / "input.png").write_bytes(_image(99))


@pytest.fixture
def study(researcher):
    from studies import setup

    return setup.create_study(owner=researcher, title="Imported")


def _run(*args) -> str:
    out = io.StringIO()
    call_command("import_study_items", *[str(a) for a in args], stdout=out)
    return out.getvalue()


def test_import_a_folder(study, tmp_path):
    _folder(tmp_path / "src")
    out = _run(study.pk, tmp_path / "src")
    assert "3 item(s) added" in out and "LUT, Ours" in out
    items = {i.name: i for i in study.items.prefetch_related("outputs__method")}
    assert set(items) == {"face0", "face1", "face2"}  # the hidden folder is skipped
    assert items["face1"].subset == "indoor" and items["face0"].subset == "outdoor"
    assert all(sorted(o.method.name for o in i.outputs.all()) == METHODS for i in items.values())
    # importing again replaces the items of the same name instead of duplicating them
    _run(study.pk, tmp_path / "src")
    assert study.items.count() == 3


def test_import_a_zip_and_a_manifest(study, tmp_path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("set/manifest.csv", "item,subset,method,path\nA,S,input,a_in.png\nA,S,LUT,a1.png\nA,S,Ours,a2.png\n")
        for name, k in (("a_in.png", 1), ("a1.png", 2), ("a2.png", 3)):
            z.writestr(f"set/{name}", _image(k))
    (tmp_path / "items.zip").write_bytes(buf.getvalue())
    assert "1 item(s) added" in _run(study.pk, tmp_path / "items.zip")
    item = study.items.get()
    assert (item.name, item.subset, item.outputs.count()) == ("A", "S", 2)


def test_refusals(study, tmp_path, researcher):
    from studies.models import Study

    with pytest.raises(CommandError, match="No study"):
        _run(987654, tmp_path)
    with pytest.raises(CommandError, match="does not exist"):
        _run(study.pk, tmp_path / "missing")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(CommandError, match="neither a folder nor a zip"):
        _run(study.pk, tmp_path / "notes.txt")
    (tmp_path / "bad" / "face").mkdir(parents=True)
    (tmp_path / "bad" / "face" / "LUT.png").write_bytes(_image(1))
    with pytest.raises(CommandError, match="No input image for item"):
        _run(study.pk, tmp_path / "bad")
    _folder(tmp_path / "ok")
    Study.objects.filter(pk=study.pk).update(joined=2)
    with pytest.raises(CommandError, match="frozen"):
        _run(study.pk, tmp_path / "ok")
    assert study.items.count() == 0
