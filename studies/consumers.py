"""``/ws/studies/<id>/``: tells the study's researcher that the study changed (votes, participants,
items from engines; debounced in ``studies.live``), so the results and setup pages re-fetch.

Refusals close the socket (``webapp.websocket``): 4401 not signed in, 4403 not a researcher, 4404 no
such study or not theirs (like ``/api/studies/<id>/``, which answers 404 for another's study)."""

from channels.db import database_sync_to_async

from studies.live import study_group
from studies.selectors import studies_for
from webapp.refusal import NotFound
from webapp.websocket import RefusingConsumer, require_role


@database_sync_to_async
def _owns(user, study_id: int) -> bool:
    return studies_for(user).filter(pk=study_id).exists()


class StudyEventsConsumer(RefusingConsumer):
    async def open(self):
        user = self.scope.get("user")
        require_role(user, "researcher")
        self.study_id = int(self.scope["url_route"]["kwargs"]["study_id"])
        if not await _owns(user, self.study_id):
            raise NotFound("No such study.")
        await self.join(study_group(self.study_id))

    async def opened(self):
        await self.send_json({"type": "hello", "study": self.study_id})

    async def study_event(self, event):
        await self.send_json({k: v for k, v in event.items() if k != "type"} | {"type": "study"})
