"""``/ws/sessions/<id>/``: clicks in, the newest result out.

Client → ``{"clicks": [{"x", "y", "positive"}], "params": {...}, "seq": n}`` (original pixels).
Server → ``{"type": "result", "seq", "url", "residual_url", "server_ms"}`` for the newest seq only,
or ``{"type": "error", "seq", "detail"}``; every click that a newer one (from this socket or another
on the session) overtook before its answer gets ``{"type": "superseded", "seq"}``. ``seq`` must be an
integer in [0, 2^53) and greater than this socket's previous one. Refusals to connect close with 4401 / 4403 / 4404
(``webapp.websocket``).
"""

from __future__ import annotations

import asyncio
import logging
import time

from channels.db import database_sync_to_async

import inference.engines as engines
from webapp.accounts import guests
from webapp.interactive import services
from webapp.interactive.models import session_group
from webapp.interactive.seqstore import get_store
from webapp.photos.inputs import validate_clicks
from webapp.refusal import Refusal
from webapp.websocket import RefusingConsumer, require_role

log = logging.getLogger("portrait_lab.interactive")
ROUTE_CACHE_SECONDS = 2.0
MAX_SESSION_CLICKS = 64
MAX_SEQ = 2**53  # exact in JavaScript numbers, and in every store's integer (Redis, BigIntegerField)
# A click sent to a sticky queue that got no answer in this time is sent again to the shared
# queue if the sticky worker has gone meanwhile (its queued messages died with it).
REDISPATCH_AFTER_SECONDS = 6.0


class SessionConsumer(RefusingConsumer):
    async def open(self):
        user = self.scope.get("user")
        require_role(user, "researcher", "expert", "guest")
        self.user = user
        session = await database_sync_to_async(services.session_for)(
            self.scope["url_route"]["kwargs"]["session_id"], user)
        self.session_id = str(session.pk)
        self.photo = session.photo
        self.spec = engines.spec(session.engine)
        self.worker_queue = session.worker_queue
        self.route = (None, 0.0)  # (queue, checked at)
        self.latest_seq: int | None = None
        self.answered: set[int] = set()
        self.sent_at: dict[int, float] = {}
        self.pending: set[int] = set()  # sent, and neither answered nor superseded yet
        await self.join(session_group(self.session_id))

    async def receive_json(self, content, **kwargs):
        seq = content.get("seq") if isinstance(content, dict) else None
        if isinstance(seq, bool) or not isinstance(seq, int):
            raise Refusal("seq must be an integer")
        if not 0 <= seq < MAX_SEQ:
            raise Refusal("seq must be an integer from 0 to 2^53 - 1")
        if self.latest_seq is not None and seq <= self.latest_seq:
            raise Refusal(f"seq must be greater than the previous one ({self.latest_seq})")
        clicks, params = self._validate(content)
        guests.check_click(self.user)  # cache only: no database access on the click path
        await self._supersede_below(seq)
        self.pending.add(seq)
        self.latest_seq = seq
        await get_store().aset(self.session_id, seq)
        queue = await self._queue()
        await self._dispatch(seq, clicks, params, queue)

    def _validate(self, content) -> tuple[list, dict]:
        try:
            params = engines.validate_params(self.spec, content.get("params") or {})
        except engines.EngineInputError as exc:
            raise Refusal(str(exc)) from None
        clicks = validate_clicks(content.get("clicks", []), self.photo)
        if len(clicks) > MAX_SESSION_CLICKS:
            raise Refusal(f"at most {MAX_SESSION_CLICKS} clicks are accepted in an interactive session")
        return clicks, params

    async def _queue(self) -> str:
        queue, checked = self.route
        now = time.monotonic()
        if queue is not None and queue == (self.worker_queue or services.SHARED_QUEUE) \
                and now - checked < ROUTE_CACHE_SECONDS:
            return queue
        queue = await database_sync_to_async(services.choose_queue)(self.worker_queue)
        if self.worker_queue and queue != self.worker_queue:
            log.info("session %s: worker queue %s is gone; using %s", self.session_id, self.worker_queue, queue)
            await database_sync_to_async(services.forget_worker)(self.session_id, self.worker_queue)
            self.worker_queue = ""
        self.route = (queue, now)
        return queue

    async def _dispatch(self, seq, clicks, params, queue) -> None:
        self.sent_at[seq] = time.monotonic()
        try:
            services.dispatch_click(self.session_id, seq, clicks, params, queue)
        except Exception as exc:
            log.exception("session %s: could not send click %s", self.session_id, seq)
            await self.send_error(f"The job queue is unreachable: {exc}", seq=seq)
            return
        if queue != services.SHARED_QUEUE:
            asyncio.get_running_loop().call_later(
                REDISPATCH_AFTER_SECONDS,
                lambda: asyncio.ensure_future(self._redispatch_if_lost(seq, clicks, params, queue)))

    async def _redispatch_if_lost(self, seq, clicks, params, queue) -> None:
        if seq != self.latest_seq or seq in self.answered:
            return
        alive = await database_sync_to_async(services.worker_alive)(queue)
        if alive:
            return
        log.warning("session %s: click %s was lost with worker queue %s; resending", self.session_id, seq, queue)
        await database_sync_to_async(services.forget_worker)(self.session_id, queue)
        if self.worker_queue == queue:
            self.worker_queue = ""
        self.route = (None, 0.0)
        await self._dispatch(seq, clicks, params, services.SHARED_QUEUE)

    # -- messages from workers (channel-layer group)
    async def _supersede_below(self, seq) -> None:
        """Tell the client that its unanswered clicks older than ``seq`` will get no result."""
        if not isinstance(seq, int):
            return
        for old in sorted(p for p in self.pending if p < seq):
            self.pending.discard(old)
            await self.send_json({"type": "superseded", "seq": old})

    async def session_result(self, event):
        self._learn_worker(event)
        seq = event.get("seq")
        self._answered(seq)
        await self._supersede_below(seq)
        if seq != self.latest_seq:
            return  # a newer click is on its way: latest wins
        await self.send_json({"type": "result", "seq": seq, "url": event["url"],
                              "residual_url": event["residual_url"], "server_ms": event["server_ms"]})

    async def session_error(self, event):
        self._learn_worker(event)
        seq = event.get("seq")
        self._answered(seq)
        await self._supersede_below(seq)
        if seq != self.latest_seq:
            return
        await self.send_error(event.get("detail", "failed"), seq=seq)

    def _answered(self, seq) -> None:
        self.pending.discard(seq)
        if len(self.answered) > 500:
            self.answered.clear()
            self.sent_at.clear()
        self.answered.add(seq)

    def _learn_worker(self, event) -> None:
        queue = event.get("worker_queue")
        if queue and queue != self.worker_queue:
            self.worker_queue = queue
            self.route = (queue, time.monotonic())  # it just answered: alive
