"""The closed loop with real services: PostgreSQL, Redis (broker and channel layer), uvicorn and a real
``celery worker`` process. A frozen demo annotation dataset → a training job (a few steps) whose
progress arrives over /ws/jobs/ → evaluation on the val split → "Compare in a study" (jobs on the
worker; the items are built and the study opened by the job_finished path inside the worker) →
simulated participants → results, and the provenance chain from the study back to the photos."""

from __future__ import annotations

import json
import threading
import time

import httpx
import pytest

from tests.support import REDIS_URL, distributed_stack, manage

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]
TINY = {"size": 48, "dim": 9}


@pytest.fixture
def stack(tmp_path):
    with distributed_stack(tmp_path, f"{REDIS_URL}/9", users={"ana": "researcher"},
                           MODEL_DIR=str(tmp_path / "models")) as platform:
        worker = platform.worker("loop@test", queues="gpu,cpu")
        yield platform.base, platform.env, platform.headers("ana"), worker


def _until(what: str, check, timeout: float = 240, every: float = 0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    raise TimeoutError(what)


def _listen(base: str, headers: dict, into: list, stop: threading.Event) -> threading.Thread:
    from websockets.sync.client import connect

    def run():
        with connect(base.replace("http://", "ws://") + "/ws/jobs/", origin=base, additional_headers=headers,
                     open_timeout=10) as ws:
            into.append({"type": "connected"})
            while not stop.is_set():
                try:
                    into.append(json.loads(ws.recv(timeout=0.5)))
                except TimeoutError:
                    continue

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    _until("the job socket to open", lambda: into, timeout=15, every=0.1)
    return thread


def test_dataset_to_training_to_study_to_results_with_provenance(stack):
    base, env, headers, worker = stack
    project = int(manage(env, "demo_annotation", "--groups", "3", "--photos-per-group", "2", "--seed", "2",
                         "--owner", "ana").strip().splitlines()[-1].split()[-1])
    events: list[dict] = []
    stop = threading.Event()
    listener = _listen(base, headers, events, stop)

    started = time.monotonic()
    created = httpx.post(f"{base}/api/models/train/", headers=headers, json={
        "dataset": project, "model": "retouch.lut", "expert": "a", "steps": 8, "seed": 1, "arguments": TINY})
    assert created.status_code == 201, created.text
    run = created.json()
    detail = _until("training and evaluation", lambda: (d := httpx.get(f"{base}/api/models/{run['id']}/",
                                                                       headers=headers).json())["status"]
                    in ("ready", "stopped", "failed") and d)
    assert detail["status"] == "ready", (detail, worker.output())
    trained = time.monotonic()

    # progress arrived pushed, from the worker process through Redis: steps, loss, step/s, ETA
    training = [e["training"] for e in events if e.get("training", {}).get("run") == run["id"]]
    steps = [p[0] for t in training for p in t["points"]]
    assert steps == sorted(steps) and steps[-1] == 8 and len(steps) >= 2, training
    assert any(t.get("steps_per_s") and t.get("eta_s") is not None for t in training)
    assert {"exporting", "training", "evaluating"} <= {t["phase"] for t in training}
    assert [p[0] for p in detail["loss"]] == list(range(1, 9))

    model = detail["metrics"]["model"]
    assert model["n_images"] >= 1 and "psnr" in model["ci95"] and "input" in detail["metrics"]
    assert detail["card"]["provenance"]["training_jobs"] == [run["job"]]
    listed = _until("the worker to report the new version", lambda: [
        m for m in httpx.get(f"{base}/api/models/", headers=headers).json()["results"]
        if m["id"] == run["id"] and "loop@test" in m["available_on"]], timeout=20)
    assert listed[0]["metrics"]["model"]["psnr"] == pytest.approx(model["psnr"])

    made = httpx.post(f"{base}/api/models/{run['id']}/study/", headers=headers, json={"participants": 4})
    assert made.status_code == 201, made.text
    sid = made.json()["study"]
    study = _until("the study to fill and open", lambda: (s := httpx.get(f"{base}/api/studies/{sid}/",
                                                                         headers=headers).json())["status"] == "open" and s)
    opened = time.monotonic()
    assert len(study["items"]) == len(made.json()["photos"]) and len(study["methods"]) == 4
    print(f"\nstart training → trained and evaluated {trained - started:.1f} s → study open {opened - started:.1f} s")

    manage(env, "shell", "-c", "from webapp.registry import simulation; from webapp.registry.models import "
                               f"StudyComparison; simulation.answer(StudyComparison.objects.get(study_id={sid}), 4, 0)")
    results = httpx.get(f"{base}/api/studies/{sid}/results/?download=1", headers=headers).json()
    assert set(results["bradley_terry"]["score"]) == set(made.json()["methods"])
    [chain] = results["provenance"]

    prov = httpx.get(f"{base}/api/models/{run['id']}/provenance/", headers=headers).json()
    assert chain["engine_version"] == prov["engine_version"]
    assert prov["studies"][0]["id"] == sid and prov["studies"][0]["status"] == "open"
    assert prov["engine_version"]["version"] == run["version"] and prov["engine_version"]["sha256"]
    [job] = prov["training_jobs"]
    assert job["id"] == run["job"] and job["status"] == "succeeded" and job["worker"] == "loop@test"
    assert prov["dataset"]["project"] == project and prov["dataset"]["dataset_version"] == 1
    assert {a["expert"] for a in prov["assignments"]} == {"expert-warm"}  # slot a of the demo
    assert max(a["review_rounds"] for a in prov["assignments"]) == 2  # the reviewer sent one back
    assert len(prov["photos"]) == 6 and {p["split"] for p in prov["photos"]} == {"train", "val"}
    assert sorted(p["id"] for p in prov["photos"] if p["split"] == "val") == sorted(made.json()["photos"])
    page = httpx.get(f"{base}/api/models/", headers=headers).json()
    assert any(m["id"] == run["id"] for m in page["results"])
    stop.set()
    listener.join(timeout=5)
