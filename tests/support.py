"""Helpers for the test suite: skip-or-fail on missing services, Chromium, and (re-exported from
``devtools.processes``, which benchmarks share) real server processes, workers and databases; steps
that several browser tests share."""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

import pytest

from devtools.processes import (
    AMQP_URL,
    PG_URL,
    PYTHON,
    REDIS_URL,
    REPO,
    DistributedStack,
    Proc,
    add_user,
    base_env,
    distributed_platform,
    embedded_platform,
    flush_redis_db,
    free_port,
    manage,
    port_open,
    scratch_postgres_database,
    services_for_distributed_mode,
    start_celery_worker,
    start_http_server,
    start_server,
    start_uvicorn,
    token_for,
    wait_for_http,
    wait_for_job,
    wait_for_worker,
)

__all__ = [
    "AMQP_URL", "CHROMIUM", "CHROMIUM_ARGS", "PG_URL", "PYTHON", "REDIS_URL", "REPO", "DistributedStack", "Proc",
    "add_user", "base_env", "distributed_platform", "distributed_stack", "embedded_platform", "flush_redis_db",
    "free_port", "harmonize_composite", "manage", "must_have_everything", "need", "need_chromium",
    "need_postgres", "need_rabbitmq", "need_redis", "port_open", "scratch_postgres_database",
    "services_for_distributed_mode", "start_celery_worker", "start_http_server", "start_server", "start_uvicorn",
    "token_for", "wait_for_http", "wait_for_job", "wait_for_worker",
]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def must_have_everything() -> bool:
    """CI sets PORTRAIT_LAB_REQUIRE_ALL=1: a missing service is then a failure, not a skip."""
    return os.environ.get("PORTRAIT_LAB_REQUIRE_ALL") == "1"


def need(condition: bool, reason: str) -> None:
    if condition:
        return
    if must_have_everything():
        pytest.fail(f"required for CI but missing: {reason}")
    pytest.skip(reason)


def need_postgres():
    need(port_open("127.0.0.1", 5432), "PostgreSQL is not listening on 127.0.0.1:5432")


def need_redis():
    need(port_open("127.0.0.1", 6379), "Redis is not listening on 127.0.0.1:6379")


def need_rabbitmq():
    need(port_open("127.0.0.1", 5672), "RabbitMQ is not listening on 127.0.0.1:5672")


def need_chromium():
    need(Path(CHROMIUM).exists(), f"{CHROMIUM} is missing (apt-get install chromium)")


@contextmanager
def distributed_stack(tmp: Path, broker: str, *, channels_url: str | None = None, **kwargs):
    """``devtools.processes.distributed_stack`` after checking (skip, or fail under CI) that PostgreSQL
    and the brokers it names answer."""
    from devtools.processes import distributed_stack as start

    need_postgres()
    for url in (broker, channels_url or broker):
        if url.startswith("amqp"):
            need_rabbitmq()
        else:
            need_redis()
    with start(tmp, broker, channels_url=channels_url, **kwargs) as stack:
        yield stack


def harmonize_composite(page, base: str, drag_to: tuple[float, float]) -> dict:
    """On /try/harmonize/: paste the astronaut sample onto the camera sample at half scale, drag a
    reference box from the canvas's top-left corner to ``drag_to`` (fractions of the canvas), run, and
    wait for the result step. Returns the canvas's bounding box."""
    page.goto(f"{base}/try/harmonize/")
    page.wait_for_function("() => document.querySelectorAll('#pick-person option').length > 2")
    options = page.locator("#pick-person option")
    value = {options.nth(i).inner_text().split(" (")[0]: options.nth(i).get_attribute("value")
             for i in range(options.count())}
    page.select_option("#pick-person", value["astronaut.png"])
    page.select_option("#pick-bg", value["camera.png"])
    page.fill("#scale", "0.5")
    page.locator("#scale").dispatch_event("input")
    page.click("#btn-paste")
    page.wait_for_function("() => document.getElementById('harm').dataset.step === 'reference'", timeout=60_000)
    box = page.locator("#canvas").bounding_box()
    page.mouse.move(box["x"] + 10, box["y"] + 10)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * drag_to[0], box["y"] + box["height"] * drag_to[1], steps=5)
    page.mouse.up()
    page.click("#btn-run")
    page.wait_for_function("() => document.getElementById('harm').dataset.step === 'result'", timeout=90_000)
    return box
