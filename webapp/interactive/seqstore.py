"""The newest click sequence number of each session, where both the web tier and workers read it.

Latest wins: the WebSocket consumer records the seq of every click message it receives; a worker
drops a queued click whose seq is older than the recorded one, and does not publish a result
that was overtaken while it ran.

* embedded mode (in-memory broker): the worker is a thread of the server process → a dict;
* Redis reachable (channel layer or broker on Redis) → one Redis key per session;
* otherwise (e.g. RabbitMQ without Redis) → the session row's ``last_seq`` column.
"""

from __future__ import annotations

import asyncio
import threading
import time

import redis
import redis.asyncio as aredis
from channels.db import database_sync_to_async
from django.conf import settings

from webapp.interactive.models import InteractiveSession

KEY_PREFIX = "portrait_lab:session_seq:"
KEY_TTL_SECONDS = 6 * 3600


class LocalSeqStore:
    kind = "local"

    def __init__(self, max_items: int = 10_000):
        self._seqs: dict[str, tuple[int, float]] = {}
        self._lock = threading.Lock()
        self._max = max_items

    def set(self, session_id, seq: int) -> None:
        with self._lock:
            if len(self._seqs) >= self._max:  # forget the oldest half: sessions are short-lived
                for key, _ in sorted(self._seqs.items(), key=lambda kv: kv[1][1])[: self._max // 2]:
                    del self._seqs[key]
            self._seqs[str(session_id)] = (int(seq), time.monotonic())

    async def aset(self, session_id, seq: int) -> None:
        self.set(session_id, seq)

    def get(self, session_id) -> int | None:
        with self._lock:
            entry = self._seqs.get(str(session_id))
        return entry[0] if entry else None


class RedisSeqStore:
    kind = "redis"

    def __init__(self, url: str):
        self.url = url
        self._sync = None
        self._async = {}

    def _client(self):
        if self._sync is None:
            self._sync = redis.Redis.from_url(self.url, socket_timeout=2)
        return self._sync

    def set(self, session_id, seq: int) -> None:
        self._client().set(KEY_PREFIX + str(session_id), int(seq), ex=KEY_TTL_SECONDS)

    async def aset(self, session_id, seq: int) -> None:
        loop = asyncio.get_running_loop()
        client = self._async.get(id(loop))
        if client is None:
            client = self._async[id(loop)] = aredis.Redis.from_url(self.url, socket_timeout=2)
        await client.set(KEY_PREFIX + str(session_id), int(seq), ex=KEY_TTL_SECONDS)

    def get(self, session_id) -> int | None:
        value = self._client().get(KEY_PREFIX + str(session_id))
        return int(value) if value is not None else None


class DatabaseSeqStore:
    kind = "database"

    def set(self, session_id, seq: int) -> None:
        InteractiveSession.objects.filter(pk=session_id).update(last_seq=int(seq))

    async def aset(self, session_id, seq: int) -> None:
        await database_sync_to_async(self.set)(session_id, seq)

    def get(self, session_id) -> int | None:
        return InteractiveSession.objects.filter(pk=session_id).values_list("last_seq", flat=True).first()


_store = None
_store_lock = threading.Lock()


def redis_url() -> str:
    if settings.CHANNELS_REDIS_URL:
        return settings.CHANNELS_REDIS_URL
    broker = settings.CELERY_BROKER_URL or ""
    return broker if broker.startswith(("redis://", "rediss://")) else ""


def make_store():
    if (settings.CELERY_BROKER_URL or "").startswith("memory://"):
        return LocalSeqStore()
    url = redis_url()
    if url:
        return RedisSeqStore(url)
    return DatabaseSeqStore()


def get_store():
    global _store
    with _store_lock:
        if _store is None:
            _store = make_store()
        return _store


def reset_store(store=None) -> None:
    """Tests: swap the store (None → chosen again from the settings on next use)."""
    global _store
    with _store_lock:
        _store = store
