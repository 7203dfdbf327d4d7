"""URLs of the example shop. Telemetry names each request by its route template
(``GET /products/<int:pk>/``), never by the raw URL."""

from django.contrib.auth import views as auth_views
from django.urls import include, path

urlpatterns = [
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", include("shop.urls")),
]
