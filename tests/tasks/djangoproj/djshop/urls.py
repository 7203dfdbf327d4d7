from django.urls import path

from orders import views

urlpatterns = [
    path("checkout/<int:order_id>", views.checkout, name="checkout"),
]
