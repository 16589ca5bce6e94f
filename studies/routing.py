from django.urls import path

from studies.consumers import StudyEventsConsumer

websocket_urlpatterns: list = [
    path("ws/studies/<int:study_id>/", StudyEventsConsumer.as_asgi()),
]
