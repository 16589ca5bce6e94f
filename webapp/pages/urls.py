from django.contrib.auth import views as auth_views
from django.urls import path

from webapp.accounts.views import SignInView
from webapp.pages import views

urlpatterns = [
    path("", views.home, name="home"),
    path("signin/", SignInView.as_view(), name="signin"),
    path("signout/", auth_views.LogoutView.as_view(next_page="/"), name="signout"),
    path("photos/", views.photo_library, name="photo-library"),
    path("photos/<int:pk>/", views.photo_page, name="photo-page"),
    path("try/background/", views.try_background, name="try-background"),
]
