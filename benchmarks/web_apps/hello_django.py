"""Hello-world Django app for benchmarks/web.py (gunicorn, 1 sync worker): ``/`` and ``/realistic``."""

from django.conf import settings

from modes import CS, MODE, floor_provider, official, realistic_work

settings.configure(
    DEBUG=False, ALLOWED_HOSTS=["*"], ROOT_URLCONF=__name__, SECRET_KEY="benchmark-only", MIDDLEWARE=[],
    INSTALLED_APPS=["django_ai"] if MODE == "ours" else [], DATABASES={},
    APPLICATION_INSIGHTS={"CONNECTION_STRING": CS, "ROLE_NAME": "bench-django"},
    LOGGING_CONFIG=None,
)

from django.http import HttpResponse  # noqa: E402
from django.urls import path  # noqa: E402


def hello(request):
    return HttpResponse("Hello, World!")


def realistic(request):
    return HttpResponse(realistic_work("bench"))


urlpatterns = [path("", hello), path("realistic", realistic)]

if MODE == "official":
    official()
elif MODE == "floor":
    from opentelemetry.instrumentation.django import DjangoInstrumentor
    from opentelemetry.instrumentation.sqlite3 import SQLite3Instrumentor
    from opentelemetry.instrumentation.urllib import URLLibInstrumentor

    provider = floor_provider()
    DjangoInstrumentor().instrument(tracer_provider=provider)
    SQLite3Instrumentor().instrument(tracer_provider=provider)
    URLLibInstrumentor().instrument(tracer_provider=provider)

from django.core.wsgi import get_wsgi_application  # noqa: E402

application = get_wsgi_application()
