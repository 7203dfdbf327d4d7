from django.urls import path

from shop import views

urlpatterns = [
    path("", views.product_list, name="product-list"),
    path("products/<int:pk>/", views.product_detail, name="product-detail"),
    path("account/", views.account, name="account"),
    path("api/stock/<int:pk>/", views.api_stock, name="api-stock"),
    path("orders/<int:pk>/", views.order, name="order"),
    # Excluded from telemetry by name: APPLICATION_INSIGHTS["EXCLUDED_ROUTES"] in settings.
    path("health/", views.health, name="health"),
    path("fail/", views.fail, name="fail"),
]
