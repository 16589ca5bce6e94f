from channels.generic.websocket import AsyncJsonWebsocketConsumer

from webapp.accounts.permissions import user_has_role
from webapp.jobs.events import user_group

CLOSE_UNAUTHORISED = 4401


class JobEventsConsumer(AsyncJsonWebsocketConsumer):
    """``/ws/jobs/``: pushes the signed-in user's job progress and completion."""

    async def connect(self):
        user = self.scope.get("user")
        if not user_has_role(user, "researcher", "expert"):
            await self.close(code=CLOSE_UNAUTHORISED)
            return
        self.group = user_group(user.pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code):
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_json(self, content, **kwargs):
        if content.get("type") == "ping":
            await self.send_json({"type": "pong"})

    async def job_event(self, event):
        await self.send_json({**{k: v for k, v in event.items() if k != "type"}, "type": "job"})
