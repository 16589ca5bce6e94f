"""User-study URLs: researcher API under /api/studies/, participant API under /api/participate/,
pages at /studies/ (researchers) and /s/<public id>/ (participants)."""

from django.urls import path, re_path

from studies import api, hot_path, page_views, participate

urlpatterns = [
    path("api/studies/", api.StudyListView.as_view(), name="study-list"),
    path("api/studies/<int:pk>/", api.StudyDetailView.as_view(), name="study-detail"),
    path("api/studies/<int:pk>/methods/", api.MethodListView.as_view(), name="study-methods"),
    path("api/studies/<int:pk>/items/", api.ItemListView.as_view(), name="study-items"),
    path("api/studies/<int:pk>/items/<int:item_id>/", api.ItemDetailView.as_view(), name="study-item"),
    path("api/studies/<int:pk>/items/from-jobs/", api.ItemsFromJobsView.as_view(), name="study-items-from-jobs"),
    path("api/studies/<int:pk>/import/", api.ImportView.as_view(), name="study-import"),
    path("api/studies/<int:pk>/status/", api.StatusView.as_view(), name="study-status"),
    path("api/studies/<int:pk>/results/", api.ResultsView.as_view(), name="study-results"),
    path("api/studies/<int:pk>/votes.csv", api.VotesCsvView.as_view(), name="study-votes"),
    path("api/studies/<int:pk>/responses.csv", api.ResponsesCsvView.as_view(), name="study-responses"),
    path("api/studies/<int:pk>/results.tex", api.LatexView.as_view(), name="study-latex"),
    path("api/studies/<int:pk>/dashboard/", api.DashboardView.as_view(), name="study-dashboard"),
    path("api/studies/<int:pk>/participants/<int:participant_id>/", api.ParticipantView.as_view(),
         name="study-participant"),
    path("api/studies/<int:pk>/images/<int:output_id>/", api.OutputImageView.as_view(), name="study-image"),
    *[re_path(f"^{route.pattern}$", participate.hot_view(route), name=route.name) for route in hot_path.ROUTES],
    path("api/participate/screen/", participate.screen, name="participate-screen"),
    path("api/participate/questionnaire/", participate.questionnaire, name="participate-questionnaire"),
    path("api/participate/img/<str:token>/", participate.image, name="participate-image"),
    path("api/participate/<str:public_id>/", participate.study_info, name="participate-info"),
    path("api/participate/<str:public_id>/join/", participate.join, name="participate-join"),
    path("studies/", page_views.study_list, name="studies"),
    path("studies/<int:pk>/", page_views.study_setup, name="study-setup"),
    path("studies/<int:pk>/results/", page_views.study_results, name="study-results-page"),
    path("s/<str:public_id>/", page_views.participate, name="participate"),
]
