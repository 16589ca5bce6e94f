from webapp.events import user_group
from webapp.websocket import RefusingConsumer, require_role


class JobEventsConsumer(RefusingConsumer):
    """``/ws/jobs/``: pushes the signed-in user's job progress and completion."""

    async def open(self):
        user = self.scope.get("user")
        require_role(user, "researcher", "expert", "guest")  # each user hears only its own jobs
        await self.join(user_group(user.pk))

    async def job_event(self, event):
        await self.send_json({**{k: v for k, v in event.items() if k != "type"}, "type": "job"})
