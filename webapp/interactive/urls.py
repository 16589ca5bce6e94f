"""Interactive sessions: API under /api/, the two pages under /try/."""

from django.urls import path

from webapp.interactive import views

urlpatterns = [
    path("api/sessions/", views.SessionListView.as_view(), name="session-list"),
    path("api/sessions/<uuid:pk>/", views.SessionDetailView.as_view(), name="session-detail"),
    path("api/composites/", views.CompositeView.as_view(), name="composite-create"),
    path("try/", views.try_page, name="try-retouch"),
    path("try/harmonize/", views.harmonize_page, name="try-harmonize"),
]
