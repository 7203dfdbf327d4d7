"""Users authenticated without Django's session cookie, as projects do it: a token middleware
that sets a lazy ``request.user`` (the way ``AuthenticationMiddleware`` does), and a Django
REST framework view with token authentication. ``ROOT_URLCONF = "testsite.user_sources"``."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.http import JsonResponse
from django.urls import path
from django.utils.functional import SimpleLazyObject

from shop.models import Item
from testsite.urls import urlpatterns as site_urlpatterns


def _user_of_token(request):
    token = request.headers.get("X-Api-Token")
    found = get_user_model().objects.filter(username=token).first() if token else None
    return found or AnonymousUser()


class LazyTokenMiddleware:
    """``X-Api-Token: <username>`` signs a request in; looked up only when someone asks."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if "X-Api-Token" in request.headers:
            request.user = SimpleLazyObject(lambda: _user_of_token(request))
        return self.get_response(request)


def _drf_item_view():
    from rest_framework.authentication import TokenAuthentication
    from rest_framework.permissions import IsAuthenticated
    from rest_framework.response import Response
    from rest_framework.views import APIView

    class ItemView(APIView):
        authentication_classes = [TokenAuthentication]
        permission_classes = [IsAuthenticated]

        def get(self, request, pk):
            return Response({"name": Item.objects.get(pk=pk).name})

    return ItemView.as_view()


def item_without_user(request, pk):
    return JsonResponse({"name": Item.objects.get(pk=pk).name})  # never reads request.user


urlpatterns = site_urlpatterns + [
    path("plain/items/<int:pk>/", item_without_user),
    path("drf/items/<int:pk>/", _drf_item_view()),
]
