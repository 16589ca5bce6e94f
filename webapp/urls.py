from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView

from webapp.accounts.views import (
    GuestView,
    MeView,
    ObtainTokenView,
    PasswordView,
    SocketTicketView,
    guest_start,
)
from webapp.jobs.views import EngineListView, HealthView, JobCancelView, JobDetailView, JobListView
from webapp.media_views import serve_media
from webapp.photos.views import PhotoDetailView, PhotoGroupListView, PhotoListView, PhotoMaskView

api = [
    path("health/", HealthView.as_view(), name="health"),
    path("auth/token/", ObtainTokenView.as_view(), name="auth-token"),
    path("auth/password/", PasswordView.as_view(), name="auth-password"),
    path("auth/ws-ticket/", SocketTicketView.as_view(), name="auth-ws-ticket"),
    path("auth/guest/", GuestView.as_view(), name="auth-guest"),
    path("me/", MeView.as_view(), name="me"),
    path("photos/", PhotoListView.as_view(), name="photo-list"),
    path("photos/<int:pk>/", PhotoDetailView.as_view(), name="photo-detail"),
    path("photos/<int:pk>/masks/", PhotoMaskView.as_view(), name="photo-masks"),
    path("groups/", PhotoGroupListView.as_view(), name="group-list"),
    path("engines/", EngineListView.as_view(), name="engine-list"),
    path("jobs/", JobListView.as_view(), name="job-list"),
    path("jobs/<int:pk>/", JobDetailView.as_view(), name="job-detail"),
    path("jobs/<int:pk>/cancel/", JobCancelView.as_view(), name="job-cancel"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
]

urlpatterns = [
    path("api/", include(api)),
    path("admin/", admin.site.urls),
    path("try/guest/", guest_start, name="try-guest"),
    re_path(r"^media/(?P<path>.+)$", serve_media, name="media"),
    path("", include("studies.urls")),
    path("", include("webapp.interactive.urls")),
    path("", include("webapp.annotation.urls")),
    path("", include("webapp.registry.urls")),
    path("", include("webapp.pages.urls")),
]

# Every error gets a page in the site's style (JSON under /api/): webapp/errors.py
handler400 = "webapp.errors.bad_request"
handler403 = "webapp.errors.permission_denied"
handler404 = "webapp.errors.page_not_found"
handler500 = "webapp.errors.server_error"
