from django.urls import include, path, re_path

from shop import views

api = ([path("health/", views.health, name="health")], "api")

urlpatterns = [
    path("items/<int:pk>/", views.item, name="item"),
    re_path(r"^articles/(?P<year>[0-9]{4})/$", views.article),
    path("fail/", views.fail),
    path("private/", views.private),
    path("health/", views.health, name="health"),
    path("api/", include(api)),
    path("skip/<slug:what>/", views.health),
    path("orders/", views.orders),
    path("login/", views.login_view),
    path("account/", views.account),
    path("stream/", views.stream),
    path("log/", views.log_view),
    path("page/", views.page),
    path("seen/<int:pk>/", views.route_seen),
]
