from django.urls import path

from studies.routing import websocket_urlpatterns as study_websockets
from webapp.annotation.routing import websocket_urlpatterns as annotation_websockets
from webapp.interactive.routing import websocket_urlpatterns as session_websockets
from webapp.jobs.consumers import JobEventsConsumer

websocket_urlpatterns = [
    path("ws/jobs/", JobEventsConsumer.as_asgi()),
    *session_websockets,
    *study_websockets,
    *annotation_websockets,
]
