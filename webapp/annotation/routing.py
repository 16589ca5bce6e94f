from django.urls import path

from webapp.annotation.consumers import ProjectEventsConsumer

websocket_urlpatterns = [
    path("ws/annotation/projects/<int:project_id>/", ProjectEventsConsumer.as_asgi()),
]
