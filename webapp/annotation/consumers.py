"""``/ws/annotation/projects/<id>/``: a project's live events — assignment state changes, freezes
and export progress — for its owner and its reviewers. Refusals close with 4401 (not signed in),
4403 (an expert's role) or 4404 (not a project the user may see); see ``webapp.websocket``."""

from __future__ import annotations

from channels.db import database_sync_to_async

from webapp.annotation import selectors
from webapp.annotation.services import project_group_name
from webapp.websocket import RefusingConsumer, require_role


class ProjectEventsConsumer(RefusingConsumer):
    async def open(self):
        user = self.scope.get("user")
        require_role(user, "researcher", "reviewer")
        project = await database_sync_to_async(selectors.project_for)(
            user, self.scope["url_route"]["kwargs"]["project_id"])
        self.project_id = project.pk
        await self.join(project_group_name(project.pk))

    async def opened(self):
        await self.send_json({"type": "hello", "project": self.project_id})

    async def annotation_event(self, event):
        await self.send_json({k: v for k, v in event.items() if k != "type"})
