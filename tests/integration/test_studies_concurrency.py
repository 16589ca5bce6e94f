"""Votes under concurrency and a server restart, on the distributed stack: PostgreSQL (pooled
connections), Redis channel layer and broker, ``uvicorn webapp.asgi:application`` with 2 workers.

50 simulated participants answer in parallel threads. Some double-click (the same answer sent twice
at once), some re-send an answer they already got acknowledged, some try to change an answer.
Midway the server's whole process group is killed (SIGKILL) and a new server is started on the same
port; clients retry connection errors and 5xx with the same idempotency key, as the participant
page does; some clients also give up waiting for a reply (the vote is stored, the 201 is lost) and
send again. Afterwards: every trial a client believes answered is stored exactly once with the
client's answer, nothing else is stored, no trial was acknowledged 201 twice, every participant
completed; and the results API equals ``python -m studies.analysis`` on the exported votes.csv.
"""

from __future__ import annotations

import functools
import json
import random
import subprocess
import sys
import threading
import time

import httpx
import pytest

from devtools.processes import start_http_server
from tests.support import (
    PYTHON,
    REDIS_URL,
    Proc,
    base_env,
    flush_redis_db,
    free_port,
    manage,
    need_postgres,
    need_redis,
    scratch_postgres_database,
    token_for,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

PARTICIPANTS = 50
TRIALS = 14  # per participant, plus one practice trial
BUILD = """
import numpy as np
from studies import setup
from webapp.accounts.services import create_or_update_user
owner = create_or_update_user("conc-owner", role="researcher", password="pw-123456")
study = setup.create_study(owner=owner, title="Concurrency", practice_trials=1, trials_per_participant={trials},
                           attention_every=0, participants_wanted={participants}, seed=4)
rng = np.random.default_rng(0)
for k in range(8):
    base = rng.random((40, 32, 3)).astype(np.float32)
    setup.add_item_arrays(study, name=f"item{{k}}", subset="A" if k % 2 else "B", input_rgb=base,
                          outputs={{m: np.clip(base * (0.8 + 0.1 * j), 0, 1) for j, m in
                                   enumerate(["Alpha", "Beta", "Gamma", "Delta"])}})
setup.set_status(study, "open")
print("study", study.pk, study.public_id)
"""


def _serve(env, tmp, port: int, tag: str) -> Proc:
    args = [PYTHON, "-m", "uvicorn", "webapp.asgi:application", "--host", "127.0.0.1", "--port", str(port),
            "--workers", "2", "--lifespan", "off", "--log-level", "warning"]
    return start_http_server(args, env, tmp / f"server-{tag}.log", f"http://127.0.0.1:{port}", timeout=60)


class Ledger:
    """What the clients saw, shared by all participant threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.believed: dict[str, str] = {}  # trial id → the answer the client saw acknowledged (200/201)
        self.created: dict[str, int] = {}  # trial id → how many 201s
        self.codes: dict[int, int] = {}
        self.changed: list[str] = []  # trials whose different second answer was refused (409)
        self.retries = 0
        self.done: list[dict] = []
        self.errors: list[str] = []

    def note(self, tid: str, choice: str, status: int) -> None:
        with self.lock:
            self.codes[status] = self.codes.get(status, 0) + 1
            if status in (200, 201):
                previous = self.believed.setdefault(tid, choice)
                if previous != choice:
                    self.errors.append(f"{tid}: acknowledged {choice} after {previous}")
            if status == 201:
                self.created[tid] = self.created.get(tid, 0) + 1

    @property
    def acknowledged(self) -> int:
        with self.lock:
            return len(self.believed)


def _reliably(send, ledger: Ledger, deadline: float):
    """Retry connection errors and 5xx (server restarting) until ``deadline``, like the page does."""
    delay = 0.05
    while True:
        try:
            response = send()
            if response.status_code < 500:
                return response
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError("the server never came back")
        with ledger.lock:
            ledger.retries += 1
        time.sleep(delay)
        delay = min(delay * 2, 0.8)


def _participant(base: str, public_id: str, k: int, ledger: Ledger, deadline: float) -> None:
    rng = random.Random(k)
    client = httpx.Client(base_url=base, timeout=10)
    try:
        r = _reliably(lambda: client.post(f"/api/participate/{public_id}/join/",
                                          json={"consent": True, "params": {"PROLIFIC_PID": f"c{k}"}}),
                      ledger, deadline)
        assert r.status_code == 201, r.text
        client.headers["X-Participant-Token"] = r.json()["participant_token"]
        answered: list[tuple[str, str]] = []

        def send(tid: str, choice: str, key: str):
            body = {"choice": choice, "idempotency_key": key, "elapsed_ms": rng.randint(300, 4000)}
            return _reliably(functools.partial(client.post, f"/api/participate/trials/{tid}/response/", json=body),
                             ledger, deadline)

        while True:
            trial = _reliably(lambda: client.get("/api/participate/next/"), ledger, deadline).json()
            if trial.get("done"):
                with ledger.lock:
                    ledger.done.append(trial)
                return
            tid = trial["trial_id"]
            choice = rng.choice(("left", "right"))
            if rng.random() < 0.1:  # the vote arrives but its reply is lost: the client stops waiting
                try:
                    lost = client.post(f"/api/participate/trials/{tid}/response/", timeout=httpx.Timeout(
                        10, read=0.0005), json={"choice": choice, "idempotency_key": f"key-{tid}"})
                    ledger.note(tid, choice, lost.status_code)
                except httpx.TransportError:
                    pass
                time.sleep(0.02)
            if rng.random() < 0.25:  # double click: the same answer twice at once
                twin: list = []
                other = threading.Thread(target=lambda tid=tid, choice=choice, twin=twin: twin.append(
                    send(tid, choice, f"key-{tid}")))
                other.start()
                r = send(tid, choice, f"key-{tid}")
                other.join()
                ledger.note(tid, choice, twin[0].status_code)
                assert twin[0].status_code in (200, 201), twin[0].text
            else:
                r = send(tid, choice, f"key-{tid}")
            ledger.note(tid, choice, r.status_code)
            assert r.status_code in (200, 201), r.text
            answered.append((tid, choice))
            if rng.random() < 0.15:  # re-send an earlier, acknowledged answer
                old_tid, old_choice = rng.choice(answered)
                again = send(old_tid, old_choice, f"key-{old_tid}")
                ledger.note(old_tid, old_choice, again.status_code)
                assert again.status_code == 200, again.text
            if rng.random() < 0.05:  # change one's mind: refused, the first answer stays
                refused = send(tid, "right" if choice == "left" else "left", f"other-{tid}")
                assert refused.status_code == 409, refused.text
                with ledger.lock:
                    ledger.changed.append(tid)
    except BaseException as exc:  # noqa: BLE001 - reported by the test
        with ledger.lock:
            ledger.errors.append(f"participant {k}: {type(exc).__name__}: {exc}")
    finally:
        client.close()


def test_votes_exactly_once_under_concurrency_and_a_server_restart(tmp_path):
    need_postgres()
    need_redis()
    redis_url = f"{REDIS_URL}/7"
    flush_redis_db(redis_url)
    started = time.monotonic()
    with scratch_postgres_database() as database_url:
        env = base_env(DATABASE_URL=database_url, CHANNELS_REDIS_URL=redis_url, CELERY_BROKER_URL=redis_url,
                       MEDIA_ROOT=str(tmp_path / "media"), DATA_DIR=str(tmp_path / "data"),
                       STUDY_JOIN_RATE_PER_IP="0", STUDY_JOIN_RATE_GLOBAL="0")  # 50 joins from here at once
        manage(env, "migrate", "--noinput", "-v0")
        out = manage(env, "shell", "-c", BUILD.format(trials=TRIALS, participants=PARTICIPANTS))
        _, study_id, public_id = out.strip().splitlines()[-1].split()
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        servers = [_serve(env, tmp_path, port, "first")]
        try:
            ledger = Ledger()
            deadline = time.monotonic() + 90
            threads = [threading.Thread(target=_participant, args=(base, public_id, k, ledger, deadline))
                       for k in range(PARTICIPANTS)]
            for t in threads:
                t.start()
            expected = PARTICIPANTS * (TRIALS + 1)
            while ledger.acknowledged < expected * 0.4 and any(t.is_alive() for t in threads):
                time.sleep(0.02)
            acknowledged_before = ledger.acknowledged
            servers[0].kill()  # SIGKILL to the whole process group: requests in flight are cut off
            servers.append(_serve(env, tmp_path, port, "second"))
            for t in threads:
                t.join(timeout=max(1.0, deadline - time.monotonic()))
            assert not any(t.is_alive() for t in threads), "participants still running"
            assert not ledger.errors, ledger.errors[:5]
            assert 0 < acknowledged_before < expected, "the restart did not happen mid-run"
            assert ledger.retries > 0, "no client ever had to retry: the restart went unnoticed"

            # Exactly once: the stored votes are the acknowledged ones, each with the client's answer.
            import psycopg

            with psycopg.connect(database_url) as conn:
                stored = conn.execute(
                    "SELECT t.public_id, r.choice FROM studies_response r JOIN studies_trial t ON t.id = r.trial_id"
                    " WHERE r.study_id = %s", (int(study_id),)).fetchall()
                completed = conn.execute("SELECT count(*) FROM studies_participant WHERE study_id = %s AND "
                                         "completed_at IS NOT NULL", (int(study_id),)).fetchone()[0]
                unanswered = conn.execute(
                    "SELECT count(*) FROM studies_trial t LEFT JOIN studies_response r ON r.trial_id = t.id "
                    "WHERE t.study_id = %s AND r.id IS NULL", (int(study_id),)).fetchone()[0]
            stored_ids = [tid for tid, _ in stored]
            assert len(stored_ids) == len(set(stored_ids)), "a trial has two stored answers"
            assert dict(stored) == ledger.believed
            assert len(stored) == expected and unanswered == 0
            assert all(n == 1 for n in ledger.created.values()), "a trial was acknowledged 201 twice"
            assert len(ledger.created) < len(stored), "no vote was stored without its 201 reaching the client"
            assert ledger.codes.get(200, 0) > 0 and ledger.changed, ledger.codes
            assert len(ledger.done) == PARTICIPANTS == completed
            assert all(d["completion_code"] for d in ledger.done)

            # Results from the API equal the CLI on the exported votes.csv.
            manage(env, "adduser", "conc-owner", "--role", "researcher", "--password", "pw-123456")
            headers = {"Authorization": f"Token {token_for(base, 'conc-owner', 'pw-123456')}"}
            csv_text = httpx.get(f"{base}/api/studies/{study_id}/votes.csv", headers=headers, timeout=30).text
            assert len(csv_text.strip().splitlines()) == 1 + PARTICIPANTS * TRIALS  # practice is not a vote
            (tmp_path / "votes.csv").write_text(csv_text)
            api = httpx.get(f"{base}/api/studies/{study_id}/results/?bootstrap=50&seed=3", headers=headers,
                            timeout=60).json()
            cli = subprocess.run([sys.executable, "-m", "studies.analysis", str(tmp_path / "votes.csv"), "--json",
                                  "--bootstrap", "50", "--seed", "3"], capture_output=True, text=True, check=True)
            assert api == json.loads(cli.stdout)
            assert set(api["conditions"]) == {"Alpha", "Beta", "Gamma", "Delta"}
            print(f"{len(stored)} votes, {ledger.codes} status codes, {ledger.retries} retries, restart after "
                  f"{acknowledged_before} acknowledged; {time.monotonic() - started:.1f} s")
        finally:
            for proc in servers:
                proc.stop()
                print(f"--- {proc.log_path.name}\n{proc.log_path.read_text(errors='replace')[-2000:]}")
