from django.contrib.auth import views as auth_views
from django.urls import path

from webapp.pages import views

urlpatterns = [
    path("", views.home, name="home"),
    path("signin/", auth_views.LoginView.as_view(template_name="signin.html", redirect_authenticated_user=True),
         name="signin"),
    path("signout/", auth_views.LogoutView.as_view(next_page="/"), name="signout"),
    path("photos/", views.photo_library, name="photo-library"),
    path("photos/<int:pk>/", views.photo_page, name="photo-page"),
    path("try/background/", views.try_background, name="try-background"),
]
