"""Helpers for the test suite: skip-or-fail on missing services, Chromium, and (re-exported from
``devtools.processes``, which benchmarks share) real server processes, workers and databases."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from devtools.processes import (
    AMQP_URL,
    PG_URL,
    PYTHON,
    REDIS_URL,
    REPO,
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
    start_server,
    token_for,
    wait_for_http,
    wait_for_worker,
)

__all__ = [
    "AMQP_URL", "CHROMIUM", "CHROMIUM_ARGS", "PG_URL", "PYTHON", "REDIS_URL", "REPO", "Proc", "add_user",
    "base_env", "distributed_platform", "embedded_platform", "flush_redis_db", "free_port", "manage",
    "must_have_everything", "need", "need_chromium", "need_postgres", "need_rabbitmq", "need_redis",
    "port_open", "scratch_postgres_database", "services_for_distributed_mode", "start_celery_worker",
    "start_server", "token_for", "wait_for_http", "wait_for_worker",
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
