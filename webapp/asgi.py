"""ASGI entry: HTTP through Django, WebSockets through Channels (``uvicorn webapp.asgi:application``)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")
django_http = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from studies.fastpath import ParticipantFastPath  # noqa: E402
from webapp.http_limits import BodyLimit  # noqa: E402
from webapp.routing import websocket_urlpatterns  # noqa: E402
from webapp.security import StaticFilesHandler, install_log_redaction  # noqa: E402
from webapp.ws_auth import OriginGuard, WebSocketAuthStack  # noqa: E402

# uvicorn logs request lines with their query strings: tickets and tokens are blanked out first.
install_log_redaction()

application = ProtocolTypeRouter({
    # Static files are small and few; serving them here keeps the embedded mode one process.
    # The participant vote and next/ skip Django's middleware (studies/fastpath.py); all else is Django.
    # Bodies over the limit are refused while they stream in (webapp/http_limits.py).
    "http": BodyLimit(ParticipantFastPath(StaticFilesHandler(django_http))),
    "websocket": OriginGuard(WebSocketAuthStack(URLRouter(websocket_urlpatterns))),
})
