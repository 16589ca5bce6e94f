"""Annotation API under /api/annotation/ and its pages under /annotation/."""

from django.urls import path

from webapp.annotation import pages, views

A = "api/annotation/assignments/<int:pk>"
P = "api/annotation/projects/<int:pk>"

urlpatterns = [
    path("api/annotation/assignments/", views.AssignmentListView.as_view(), name="annotation-assignments"),
    path(f"{A}/", views.AssignmentDetailView.as_view(), name="annotation-assignment"),
    path(f"{A}/assign/", views.AssignView.as_view(), name="annotation-assign"),
    path(f"{A}/reopen/", views.ReopenView.as_view(), name="annotation-reopen"),
    path(f"{A}/submit/", views.SubmitView.as_view(), name="annotation-submit"),
    path(f"{A}/review/", views.ReviewView.as_view(), name="annotation-review"),
    path(f"{A}/sync/", views.SyncView.as_view(), name="annotation-sync"),
    path(f"{A}/match-tone/", views.MatchToneView.as_view(), name="annotation-match-tone"),
    path(f"{A}/xmp/", views.GroupXmpView.as_view(), name="annotation-group-xmp"),
    path(f"{A}/issues/<int:issue_id>/resolve/", views.IssueResolveView.as_view(), name="annotation-issue-resolve"),
    path(f"{A}/photos/<int:photo_id>/params", views.ParamsView.as_view(), name="annotation-params"),
    path(f"{A}/photos/<int:photo_id>/history", views.HistoryView.as_view(), name="annotation-history"),
    path(f"{A}/photos/<int:photo_id>/xmp", views.XmpView.as_view(), name="annotation-xmp"),
    path(f"{A}/photos/<int:photo_id>/mask", views.MaskView.as_view(), name="annotation-mask"),
    path(f"{A}/photos/<int:photo_id>/crop", views.CropView.as_view(), name="annotation-crop"),
    path("api/annotation/projects/", views.ProjectListView.as_view(), name="annotation-projects"),
    path(f"{P}/", views.ProjectDetailView.as_view(), name="annotation-project"),
    path(f"{P}/freeze/", views.FreezeView.as_view(), name="annotation-freeze"),
    path(f"{P}/agreement/", views.AgreementView.as_view(), name="annotation-agreement"),
    path(f"{P}/dashboard/", views.DashboardView.as_view(), name="annotation-dashboard"),
    path(f"{P}/dashboard.csv", views.DashboardCsvView.as_view(), name="annotation-dashboard-csv"),
    path(f"{P}/export/", views.ExportView.as_view(), name="annotation-export"),
    path(f"{P}/composites/", views.CompositeView.as_view(), name="annotation-composites"),
    path("api/annotation/cutouts/", views.CutoutView.as_view(), name="annotation-cutouts"),
    path(f"{P}/export/<int:export_id>/download", views.ExportDownloadView.as_view(), name="annotation-export-download"),
    path("annotation/", pages.index, name="annotation-index"),
    path("annotation/projects/<int:pk>/", pages.project_page, name="annotation-project-page"),
    path("annotation/projects/<int:pk>/composites/", pages.composites_page, name="annotation-composites-page"),
    path("annotation/assignments/<int:pk>/", pages.editor_page, name="annotation-editor"),
    path("annotation/assignments/<int:pk>/review/", pages.review_page, name="annotation-review-page"),
]
