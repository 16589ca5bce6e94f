from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from studies.live import study_group
from webapp.accounts.permissions import user_has_role

CLOSE_UNAUTHORISED = 4401
CLOSE_FORBIDDEN = 4403


@database_sync_to_async
def _owns(user, study_id: int) -> bool:
    from studies.selectors import studies_for

    return studies_for(user).filter(pk=study_id).exists()


class StudyEventsConsumer(AsyncJsonWebsocketConsumer):
    """``/ws/studies/<id>/``: tells the study's researcher that results changed (debounced)."""

    async def connect(self):
        user = self.scope.get("user")
        if not user_has_role(user, "researcher"):
            await self.close(code=CLOSE_UNAUTHORISED)
            return
        study_id = int(self.scope["url_route"]["kwargs"]["study_id"])
        if not await _owns(user, study_id):
            await self.close(code=CLOSE_FORBIDDEN)
            return
        self.group = study_group(study_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        await self.send_json({"type": "hello", "study": study_id})

    async def disconnect(self, code):
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_json(self, content, **kwargs):
        if content.get("type") == "ping":
            await self.send_json({"type": "pong"})

    async def study_event(self, event):
        await self.send_json({k: v for k, v in event.items() if k != "type"} | {"type": "study"})
