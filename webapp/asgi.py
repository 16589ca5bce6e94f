"""ASGI entry: HTTP through Django, WebSockets through Channels (``uvicorn webapp.asgi:application``)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")
django_http = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler  # noqa: E402

from studies.fastpath import ParticipantFastPath  # noqa: E402
from webapp.routing import websocket_urlpatterns  # noqa: E402
from webapp.ws_auth import CookieOriginGuard, WebSocketAuthStack  # noqa: E402

application = ProtocolTypeRouter({
    # Static files are small and few; serving them here keeps the embedded mode one process.
    # The participant vote and next/ skip Django's middleware (studies/fastpath.py); all else is Django.
    "http": ParticipantFastPath(ASGIStaticFilesHandler(django_http)),
    "websocket": CookieOriginGuard(WebSocketAuthStack(URLRouter(websocket_urlpatterns))),
})
