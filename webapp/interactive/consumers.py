"""``/ws/sessions/<id>/``: clicks in, the newest result out.

Client → ``{"clicks": [{"x", "y", "positive"}], "params": {...}, "seq": n}`` (original pixels).
Server → ``{"type": "result", "seq", "url", "residual_url", "server_ms"}`` for the newest seq only,
or ``{"type": "error", "seq", "detail"}``.
"""

from __future__ import annotations

import asyncio
import logging
import time

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

import inference.engines as engines
from webapp.accounts.permissions import user_has_role
from webapp.interactive import services
from webapp.interactive.models import InteractiveSession, session_group
from webapp.interactive.seqstore import get_store

log = logging.getLogger("portrait_lab.interactive")
CLOSE_UNAUTHORISED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404
ROUTE_CACHE_SECONDS = 2.0
# A click sent to a sticky queue that got no answer in this time is sent again to the shared
# queue if the sticky worker has gone meanwhile (its queued messages died with it).
REDISPATCH_AFTER_SECONDS = 6.0


@database_sync_to_async
def _load_session(session_id, user):
    session = InteractiveSession.objects.select_related("photo").filter(pk=session_id).first()
    if session is None:
        return None, CLOSE_NOT_FOUND
    if session.owner_id != user.pk and not user.is_superuser:
        return None, CLOSE_FORBIDDEN
    return session, None


class SessionConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self):
        user = self.scope.get("user")
        if not getattr(user, "is_authenticated", False):
            return await self._refuse(CLOSE_UNAUTHORISED)
        if not user_has_role(user, "researcher", "expert"):
            return await self._refuse(CLOSE_FORBIDDEN)
        session, refusal = await _load_session(self.scope["url_route"]["kwargs"]["session_id"], user)
        if session is None:
            return await self._refuse(refusal)
        self.session_id = str(session.pk)
        self.photo_size = (session.photo.width, session.photo.height)
        self.spec = engines.spec(session.engine)
        self.worker_queue = session.worker_queue
        self.route = (None, 0.0)  # (queue, checked at)
        self.latest_seq: int | None = None
        self.answered: set[int] = set()
        self.sent_at: dict[int, float] = {}
        self.group = session_group(self.session_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def _refuse(self, code: int) -> None:
        # accept first so the client sees the reason (4401/4403/4404), not a bare HTTP 403
        await self.accept()
        await self.close(code=code)

    async def disconnect(self, code):
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_json(self, content, **kwargs):
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"type": "pong"})
            return
        seq = content.get("seq") if isinstance(content, dict) else None
        if isinstance(seq, bool) or not isinstance(seq, int):
            await self.send_json({"type": "error", "seq": seq, "detail": "seq must be an integer"})
            return
        try:
            clicks, params = self._validate(content)
        except ValueError as exc:
            await self.send_json({"type": "error", "seq": seq, "detail": str(exc)})
            return
        self.latest_seq = seq
        await get_store().aset(self.session_id, seq)
        queue = await self._queue()
        await self._dispatch(seq, clicks, params, queue)

    def _validate(self, content) -> tuple[list, dict]:
        from webapp.jobs.services import JobRefused
        from webapp.jobs.validation import validate_clicks

        params = content.get("params") or {}
        try:
            params = engines.validate_params(self.spec, params)
        except engines.EngineInputError as exc:
            raise ValueError(str(exc)) from None

        class _Size:
            width, height = self.photo_size

        try:
            clicks = validate_clicks(content.get("clicks", []), _Size)
        except JobRefused as exc:
            raise ValueError(str(exc)) from None
        if len(clicks) > 64:
            raise ValueError("at most 64 clicks are accepted in an interactive session")
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
            await self.send_json({"type": "error", "seq": seq, "detail": f"The job queue is unreachable: {exc}"})
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
    async def session_result(self, event):
        self._learn_worker(event)
        seq = event.get("seq")
        self._answered(seq)
        if seq != self.latest_seq:
            return  # a newer click is on its way: latest wins
        await self.send_json({"type": "result", "seq": seq, "url": event["url"],
                              "residual_url": event["residual_url"], "server_ms": event["server_ms"]})

    async def session_error(self, event):
        self._learn_worker(event)
        seq = event.get("seq")
        self._answered(seq)
        if seq != self.latest_seq:
            return
        await self.send_json({"type": "error", "seq": seq, "detail": event.get("detail", "failed")})

    def _answered(self, seq) -> None:
        if len(self.answered) > 500:
            self.answered.clear()
            self.sent_at.clear()
        self.answered.add(seq)

    def _learn_worker(self, event) -> None:
        queue = event.get("worker_queue")
        if queue and queue != self.worker_queue:
            self.worker_queue = queue
            self.route = (queue, time.monotonic())  # it just answered: alive
