import logging
import time

from django.contrib.auth import authenticate, login
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.csrf import csrf_exempt

from shop.models import Item

log = logging.getLogger("shop")


def item(request, pk):
    return JsonResponse({"name": get_object_or_404(Item, pk=pk).name})


def article(request, year):
    return HttpResponse("articles of %s" % year)


def fail(request):
    Item.objects.count()
    raise RuntimeError("the teapot broke")


def private(request):
    raise PermissionDenied


def health(request, what=None):
    return JsonResponse({"items": Item.objects.count()})  # an SQL query that must not be sent


def orders(request):
    return JsonResponse({"orders": []})


@csrf_exempt
def login_view(request):
    user = authenticate(request, username=request.POST.get("user"), password=request.POST.get("password"))
    if user is None:
        return HttpResponse(status=401)
    login(request, user)
    return HttpResponse("hello")


@login_required(login_url="/login/")
def account(request):
    return HttpResponse("account of %s" % request.user.username)


def stream(request):
    def body():
        for i in range(3):
            time.sleep(0.3)  # the app's own slow body: the request must cover it
            yield b"chunk %d\n" % i

    return StreamingHttpResponse(body())


def log_view(request):
    log.warning("stock low for %s", request.GET.get("t"))
    return HttpResponse("logged")


def page(request):
    return HttpResponse("<html><head><title>Shop</title></head><body>teapots</body></html>")


def route_seen(request, pk):
    """What a dependency or log written now would be named after: the live request span's route."""
    from opentelemetry import trace

    return JsonResponse({"route": trace.get_current_span().attributes.get("http.route")})
