"""The annotation workspace's four figures (issue 9):

    python -m devtools.bench.annotation [--json] [--only frame,autosave,export,agreement] ...

* ``frame`` — slider → preview frame in headless Chromium on a 1600 px wide image, as the editor
  draws it: ``LivePreview.render`` (annotation-common.js: ``previewPixels`` in two row bands on
  module workers, bands transferred back and put on the canvas), timed per slider value from the call
  to the pixels on the canvas; global sliders, then with texture/clarity/dehaze on (their maps are
  made once per photo and timed apart as ``first_ms``). ``*_sync`` rows: the same frames rendered on
  the main thread (the no-worker fallback). Goal ≤ 16 ms. Besides the wall times,
  ``cpu_ms_per_frame`` is the page main thread's CPU time per frame (DevTools' ``ThreadTime``) and
  ``browser_cpu_ms_per_frame`` all Chromium processes' CPU per frame (/proc: main thread, workers,
  compositor, browser process): what a frame costs when other processes share the cores. ``drag``:
  a value every 16.7 ms for 2 s, not waiting for frames (a 60 Hz pointer): frames shown per second
  and input → canvas latency of the shown ones (superseded values are dropped, not queued).
* ``autosave`` — ``PUT /api/annotation/assignments/<id>/photos/<id>/params`` round trips on the
  embedded server (``manage.py serve``), one after another on a keep-alive connection: p50, p90.
* ``export`` — ``export_dataset`` of a frozen project of N photos at M megapixels (one JPEG, its
  rows cloned, so setup is quick; every photo is still decoded, rendered three times at full
  resolution and resized; the agreement cache is filled first, as submissions fill it): wall and
  CPU time (user + system, all threads), bytes written and the load average around it. Goal ≤ 2 min
  for 100 photos at 24 MP on 2 cores. ``--export-tiff-compression`` picks deflate or none; with
  ``--export-sync`` the wall time includes flushing the written files to disk (``sync``; its share is
  ``sync_s``).
* ``agreement`` — ``GET …/agreement/``'s computation for P photos × 3 slots: warm (per-edit
  statistics and pairwise ΔE cached, as after the submissions that make them) and the cold cost per
  photo at 360p (renders and ΔE for every slot pair). Goal ≤ 2 s warm for 1,000 photos.

Everything runs on a scratch ``DATA_DIR`` that is removed at the end. Django and the image libraries
are imported where used, so ``--help`` answers at once.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from devtools.processes import REPO

SECTIONS = ("frame", "autosave", "export", "agreement")
CHROMIUM = "/usr/bin/chromium"
TYPICAL = {"exposure": 0.35, "contrast": 20, "highlights": -30, "shadows": 25, "temperature": 12, "tint": 3,
           "vibrance": 20, "saturation": 5}
LOCAL = {**TYPICAL, "texture": 25, "clarity": 20, "dehaze": 10}


def _stats_ms(values) -> dict:
    a = np.asarray(values, float)
    return {"n": int(a.size), "p50_ms": round(float(np.percentile(a, 50)), 2),
            "p90_ms": round(float(np.percentile(a, 90)), 2), "min_ms": round(float(a.min()), 2)}


def _load() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


# --- frame ---------------------------------------------------------------------------------------
class _Quiet(http.server.SimpleHTTPRequestHandler):
    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map, ".js": "text/javascript"}

    def log_message(self, format, *args):  # noqa: A002 - signature fixed by the base class
        pass


FRAME_SETUP_JS = """async ([width, height, params, sync]) => {
  const common = await import('/js/annotation-common.js');
  const c = document.createElement('canvas'); c.width = width; c.height = height;
  document.body.append(c);
  const ctx = c.getContext('2d', { willReadFrequently: true });
  const g = ctx.createLinearGradient(0, 0, width, height);
  g.addColorStop(0, '#2b4a6f'); g.addColorStop(0.5, '#d9a27c'); g.addColorStop(1, '#f3efe6');
  ctx.fillStyle = g; ctx.fillRect(0, 0, width, height);
  const img = ctx.getImageData(0, 0, width, height);
  for (let i = 0; i < img.data.length; i += 4) { const n = (Math.random() - 0.5) * 24; img.data[i] += n; img.data[i + 1] += n; img.data[i + 2] += n; }
  const live = new common.LivePreview(ctx, { sync });  // what the editor uses
  live.setSource(img);
  window.__live = live;
  const t0 = performance.now();
  for (let k = 0; k < 3; k++) await live.render({ ...params, exposure: 0.01 * k });  // JIT; local maps
  return { first: performance.now() - t0, mode: live.mode, workers: live.workers };
}"""
# One slider value after another, as a drag delivers them: each frame is timed from render() (what
# the editor calls on the animation frame after an input event) until its pixels are on the canvas,
# worker round trip and putImageData included; the animation-frame wait before it is not.
FRAME_RUN_JS = """async ([frames, params]) => {
  const live = window.__live; const times = []; const n0 = live.workerMs.length;
  for (let k = 0; k < frames; k++) {
    const t0 = performance.now();
    const drawn = await live.render({ ...params, exposure: params.exposure + 0.01 * (k % 50) });
    if (!drawn) throw new Error('frame not drawn');
    times.push(performance.now() - t0);
  }
  return { times, workerMs: live.workerMs.slice(n0) };
}"""


# A drag: one slider value every 16.7 ms for 2 s whether or not the last frame is done (what a
# 60 Hz pointer delivers); frames of superseded values are dropped. Reports the frames shown per
# second and, for each shown frame, the time from its value's input to its pixels on the canvas.
FRAME_DRAG_JS = """async ([params]) => {
  const live = window.__live; const latency = []; const pending = []; const t0 = performance.now();
  for (let k = 0; performance.now() - t0 < 2000; k++) {
    const t = performance.now();
    pending.push(live.render({ ...params, exposure: params.exposure + 0.01 * (k % 50) })
      .then((drawn) => { if (drawn) latency.push(performance.now() - t); }));
    await new Promise((r) => setTimeout(r, Math.max(0, t0 + (k + 1) * 1000 / 60 - performance.now())));
  }
  await Promise.all(pending);
  return { inputs: pending.length, shown: latency.length, seconds: (performance.now() - t0) / 1000, latency };
}"""


def _thread_seconds(cdp) -> float:
    """The page's main-thread CPU time so far (DevTools Performance metrics, thread ticks)."""
    return next(m["value"] for m in cdp.send("Performance.getMetrics")["metrics"] if m["name"] == "ThreadTime")


def _browser_cpu_seconds() -> float:
    """User + system CPU of every Chromium process started under this one (browser, renderer with
    its main thread and workers, GPU and utility processes), from /proc."""
    me = os.getpid()
    parent: dict[int, int] = {}
    stats: dict[int, list[str]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            text = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = text[text.rindex(")") + 2:].split()
        parent[int(entry)] = int(fields[1])
        stats[int(entry)] = [text[text.index("(") + 1:text.rindex(")")], *fields]
    total = 0.0
    for pid, fields in stats.items():
        p = parent.get(pid)
        while p and p != me:
            p = parent.get(p)
        if p == me and "chrom" in fields[0].lower():
            total += (int(fields[12]) + int(fields[13])) / os.sysconf("SC_CLK_TCK")  # utime, stime
    return total


def bench_frame(width: int = 1600, frames: int = 60) -> dict:
    from playwright.sync_api import sync_playwright

    height = round(width * 2 / 3)
    handler = functools.partial(_Quiet, directory=str(REPO / "frontend" / "static"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM,
                                         args=["--headless", "--no-sandbox", "--disable-gpu"])
            out = {"width": width, "height": height}
            for name, params in (("global", TYPICAL), ("local", LOCAL)):
                for sync in (False, True):
                    page = browser.new_page()
                    page.goto(f"http://127.0.0.1:{server.server_address[1]}/")
                    cdp = page.context.new_cdp_session(page)
                    cdp.send("Performance.enable", {"timeDomain": "threadTicks"})
                    setup = page.evaluate(FRAME_SETUP_JS, [width, height, params, sync])
                    load0, cpu0, all0 = _load(), _thread_seconds(cdp), _browser_cpu_seconds()
                    run = page.evaluate(FRAME_RUN_JS, [frames, params])
                    cpu_ms = (_thread_seconds(cdp) - cpu0) * 1000.0 / frames
                    all_ms = (_browser_cpu_seconds() - all0) * 1000.0 / frames
                    row = {**_stats_ms(run["times"]), "mode": setup["mode"], "workers": setup["workers"], "first_ms": round(setup["first"], 1),
                           "cpu_ms_per_frame": round(cpu_ms, 2), "browser_cpu_ms_per_frame": round(all_ms, 2),
                           "load_1m": [load0, _load()]}
                    if run["workerMs"]:
                        row["worker_band_p50_ms"] = round(float(np.percentile(run["workerMs"], 50)), 2)
                    drag = page.evaluate(FRAME_DRAG_JS, [params])
                    row["drag"] = {"inputs": drag["inputs"], "fps": round(drag["shown"] / drag["seconds"], 1),
                                   "latency_p50_ms": round(float(np.percentile(drag["latency"], 50)), 1),
                                   "latency_p90_ms": round(float(np.percentile(drag["latency"], 90)), 1)}
                    out[name if not sync else f"{name}_sync"] = row
                    page.close()
            browser.close()
    finally:
        server.shutdown()
        server.server_close()
    out["goal_ms"] = 16
    return out


# --- autosave ------------------------------------------------------------------------------------
def bench_autosave(saves: int = 50) -> dict:
    import httpx

    from devtools.processes import add_user, embedded_platform

    with embedded_platform(prefix="plab-annbench-") as (base, env):
        owner = add_user(base, env, "bench-owner", "researcher", "pw-Bench-2024!")
        expert = add_user(base, env, "bench-expert", "expert", "pw-Bench-2024!")
        h = {"Authorization": f"Token {owner}"}
        with httpx.Client(base_url=base, headers=h, timeout=60) as http:
            group = http.post("/api/groups/", json={"name": "bench"}).json()
            from tests.conftest import png_bytes

            rng = np.random.default_rng(0)
            photo = http.post("/api/photos/", data={"group": group["id"]}, files={
                "file": ("p.png", png_bytes((rng.random((360, 480, 3)) * 200 + 20).astype(np.uint8)), "image/png")}).json()
            project = http.post("/api/annotation/projects/", json={"title": "bench", "groups": [group["id"]]}).json()
            detail = http.get(f"/api/annotation/projects/{project['id']}/").json()
            a = detail["assignments"][0]["id"]
            expert_id = next(p["id"] for p in detail["people"]["expert"] if p["username"] == "bench-expert")
            http.post(f"/api/annotation/assignments/{a}/assign/", json={"expert": expert_id}).raise_for_status()
        times = []
        with httpx.Client(base_url=base, headers={"Authorization": f"Token {expert}"}, timeout=60) as http:
            url = f"/api/annotation/assignments/{a}/photos/{photo['id']}/params"
            for k in range(saves + 3):
                t0 = time.perf_counter()
                http.put(url, json={"params": {**TYPICAL, "exposure": round(0.01 * k, 2)}}).raise_for_status()
                if k >= 3:
                    times.append((time.perf_counter() - t0) * 1000.0)
    return {**_stats_ms(times), "server": "embedded (manage.py serve, SQLite)"}


# --- export and agreement (in-process Django on a scratch DATA_DIR) ------------------------------------
def _django(data_dir: str) -> None:
    os.environ["DATA_DIR"] = data_dir
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", interactive=False, verbosity=0)


def _synthetic_photo(width: int, height: int) -> np.ndarray:
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    yy /= height
    xx /= width
    rgb = np.stack([0.3 + 0.5 * xx, 0.25 + 0.5 * yy, 0.65 - 0.35 * xx], axis=-1)
    rgb[(yy - 0.55) ** 2 + (xx - 0.5) ** 2 < 0.05] *= 0.6
    rgb += np.random.default_rng(1).standard_normal(rgb.shape[:2], dtype=np.float32)[..., None] * 0.02
    return np.clip(rgb, 0, 1)


def _frozen_project(n_photos: int, width: int, height: int, per_group: int = 10):
    """A frozen 3-slot project of ``n_photos`` photos that share one stored image (rows cloned)."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from inference import imageio
    from webapp.accounts.models import User
    from webapp.annotation import services
    from webapp.annotation.models import Assignment, Edit
    from webapp.annotation.rendering import RENDERER_VERSION
    from webapp.photos.models import Mask, Photo
    from webapp.photos.services import create_group, ingest_photo, save_mask_array

    owner = User.objects.create(username=f"owner-{width}", role="researcher")
    experts = [User.objects.create(username=f"expert-{s}-{width}", role="expert") for s in "abc"]
    image = _synthetic_photo(width, height)
    groups = [create_group(name=f"g{g}", created_by=owner) for g in range((n_photos + per_group - 1) // per_group)]
    first = ingest_photo(upload=SimpleUploadedFile("p.jpg", imageio.encode_jpeg(image, quality=92)), owner=owner,
                         group=groups[0])
    yy, xx = np.mgrid[0:height, 0:width]
    mask = save_mask_array(photo=first, mask=(((yy / height - 0.55) ** 2 + (xx / width - 0.5) ** 2) < 0.05)
                           .astype(np.float32), kind="human", created_by=owner)
    fields = {f: getattr(first, f) for f in ("original", "original_name", "format", "width", "height",
                                             "bit_depth", "working", "display", "sha256")}
    photos = [first] + Photo.objects.bulk_create(
        [Photo(owner=owner, group=groups[k // per_group], **fields) for k in range(1, n_photos)])
    Mask.objects.bulk_create([Mask(photo=p, kind="human", file=mask.file.name, created_by=owner) for p in photos[1:]])
    project = services.create_project(owner=owner, title="bench", group_ids=[g.pk for g in groups])
    rng = np.random.default_rng(2)
    edits = []
    for a in project.assignments.select_related("project_group"):
        a.expert = experts["abc".index(a.slot)]
        for p in photos:
            if p.group_id == a.project_group.group_id:
                params = services.clean_params({**TYPICAL, "exposure": round(float(rng.normal(0.3, 0.2)), 2),
                                                "temperature": round(float(rng.normal(10 * "abc".index(a.slot), 5)))})
                edits.append(Edit(assignment=a, photo=p, version=1, author=a.expert, params=params,
                                  renderer_version=RENDERER_VERSION))
        a.state = Assignment.State.FROZEN
        a.save(update_fields=["expert", "state"])
    Edit.objects.bulk_create(edits, batch_size=2000)
    project.dataset_version = 1
    project.save(update_fields=["dataset_version"])
    return project


def bench_export(photos: int = 100, megapixels: float = 24.0, sizes: str = "360p",
                 tiff_compression: str | None = None, sync: bool = False) -> dict:
    from webapp.annotation import export

    tiff_compression = tiff_compression or export.DEFAULT_TIFF_COMPRESSION

    width = int(round((megapixels * 1e6 * 1.5) ** 0.5))
    height = int(round(width / 1.5))
    from webapp.annotation import reports

    t0 = time.perf_counter()
    project = _frozen_project(photos, width, height)
    reports.agreement(project)  # per-edit statistics and pair ΔE, as the submissions leave them
    setup = time.perf_counter() - t0
    import resource

    with tempfile.TemporaryDirectory(prefix="plab-export-") as out:
        load0 = _load()
        r0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
        manifest = export.export_dataset(project, out, sizes.split(","), tiff_compression=tiff_compression)
        written_s = time.perf_counter() - t0
        if sync:  # the files on disk, not just in the page cache
            os.sync()
        wall = time.perf_counter() - t0
        r1 = resource.getrusage(resource.RUSAGE_SELF)
        written = sum(f.stat().st_size for f in Path(out).rglob("*") if f.is_file())
    user, system = r1.ru_utime - r0.ru_utime, r1.ru_stime - r0.ru_stime
    return {"photos": photos, "width": width, "height": height, "sizes": sizes.split(","),
            "tiff_compression": tiff_compression, "synced": sync, "files": len(manifest["checksums"]) + 1, "wall_s": round(wall, 1),
            "sync_s": round(wall - written_s, 1) if sync else None, "cpu_s": round(user + system, 1),
            "user_s": round(user, 1), "sys_s": round(system, 1), "cpu_s_per_photo": round((user + system) / photos, 2),
            "written_gb": round(written / 1e9, 2), "per_photo_s": round(wall / photos, 2), "setup_s": round(setup, 1),
            "load_1m": [load0, _load()], "workers": export.PHOTO_WORKERS, "goal_s": 120}


def bench_agreement(photos: int = 1000, cold_sample: int = 30) -> dict:
    """Warm: the report over ``photos`` × 3 slots with every edit's statistics and pair ΔE cached
    (as the submissions leave them). Cold: the cost per photo of computing those, measured for real
    on ``cold_sample`` photos at 360p; the other photos' cache rows are filled with that sample's
    values (the report reads them the same way)."""
    from webapp.annotation import reports, selectors, stats
    from webapp.annotation.models import EditPair, EditStats

    project = _frozen_project(photos, 480, 360)
    assignments = list(project.assignments.select_related("project_group__group"))
    edits = selectors.current_edits(assignments)
    by_photo: dict[int, list] = {}
    for (_a, photo_id), edit in sorted(edits.items()):
        by_photo.setdefault(photo_id, []).append(edit)
    sample = sorted(by_photo)[:cold_sample]
    t0 = time.perf_counter()
    renders = stats.renders()
    stats.ensure_stats([e for p in sample for e in by_photo[p]], renders)
    stats.ensure_pairs([(a, b) for p in sample for i, a in enumerate(by_photo[p]) for b in by_photo[p][i + 1:]], renders)
    cold = (time.perf_counter() - t0) / len(sample)
    template = EditStats.objects.filter(edit__photo_id=sample[0]).first()
    pair = EditPair.objects.filter(first__photo_id=sample[0]).first()
    rest = [p for p in sorted(by_photo) if p not in set(sample)]
    EditStats.objects.bulk_create([EditStats(edit=e, mean_lab=template.mean_lab, human_lab=template.human_lab)
                                   for p in rest for e in by_photo[p]], batch_size=2000)
    EditPair.objects.bulk_create([EditPair(first=a, second=b, delta_e76=pair.delta_e76, delta_e_hc=pair.delta_e_hc)
                                  for p in rest for i, a in enumerate(by_photo[p]) for b in by_photo[p][i + 1:]],
                                 batch_size=2000)
    warm = []
    for _ in range(3):
        t0 = time.perf_counter()
        report = reports.agreement(project)
        warm.append(time.perf_counter() - t0)
    assert len(report["delta_e"]) == 3 and report["icc"]["exposure"]["n"] == photos
    return {"photos": photos, "slots": 3, "edits": len(edits), "warm_s": round(min(warm), 3),
            "warm_runs_s": [round(w, 3) for w in warm], "cold_per_photo_ms": round(1000 * cold, 1),
            "cold_sample": len(sample), "goal_s": 2.0}


# --- CLI ----------------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m devtools.bench.annotation", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--json", action="store_true", help="print one JSON object only")
    p.add_argument("--only", default=",".join(SECTIONS), help="comma-separated sections to run")
    p.add_argument("--frame-width", type=int, default=1600, help="preview width in pixels (height = 2/3)")
    p.add_argument("--frames", type=int, default=60, help="timed preview frames per setting")
    p.add_argument("--saves", type=int, default=50, help="timed autosave round trips")
    p.add_argument("--export-photos", type=int, default=100, help="photos in the exported project")
    p.add_argument("--export-megapixels", type=float, default=24.0, help="size of each exported photo")
    p.add_argument("--export-sizes", default="360p", help="export sizes (360p and/or full)")
    p.add_argument("--export-tiff-compression", choices=("deflate", "none"), default=None,
                   help="TIFF encoding of the export (default: the exporter's default)")
    p.add_argument("--export-sync", action="store_true", help="count flushing the export to disk (sync)")
    p.add_argument("--agreement-photos", type=int, default=1000, help="photos (× 3 slots) in the agreement report")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    only = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(only) - set(SECTIONS)
    if unknown:
        build_parser().error(f"unknown section(s): {', '.join(sorted(unknown))}")
    result: dict = {"cpus": os.cpu_count(), "load_1m": [_load()]}
    if "frame" in only:
        result["frame"] = bench_frame(args.frame_width, args.frames)
    if "autosave" in only:
        result["autosave"] = bench_autosave(args.saves)
    if {"export", "agreement"} & set(only):
        with tempfile.TemporaryDirectory(prefix="plab-annbench-") as data_dir:
            _django(data_dir)
            if "export" in only:
                result["export"] = bench_export(args.export_photos, args.export_megapixels, args.export_sizes,
                                                args.export_tiff_compression, args.export_sync)
            if "agreement" in only:
                result["agreement"] = bench_agreement(args.agreement_photos)
    result["load_1m"].append(_load())
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key}: {json.dumps(value)}")
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    sys.exit(main())
