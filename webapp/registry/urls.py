"""Model registry API under /api/models/ and its pages under /models/."""

from django.urls import path

from webapp.registry import pages, views

urlpatterns = [
    path("api/models/", views.ModelListView.as_view(), name="model-list"),
    path("api/models/datasets/", views.DatasetListView.as_view(), name="model-datasets"),
    path("api/models/train/", views.TrainView.as_view(), name="model-train"),
    path("api/models/<int:pk>/", views.ModelDetailView.as_view(), name="model-detail"),
    path("api/models/<int:pk>/resume/", views.ResumeView.as_view(), name="model-resume"),
    path("api/models/<int:pk>/study/", views.CompareInStudyView.as_view(), name="model-study"),
    path("api/models/<int:pk>/provenance/", views.ProvenanceView.as_view(), name="model-provenance"),
    path("models/", pages.model_index, name="models"),
    path("models/<int:pk>/", pages.model_page, name="model-page"),
]
