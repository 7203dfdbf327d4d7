"""Hello-world FastAPI app for benchmarks/web.py (uvicorn, 1 worker): ``/`` and ``/realistic``."""

from modes import CS, MODE, floor_provider, official, realistic_work

if MODE == "official":
    official()

from fastapi import FastAPI  # noqa: E402
from fastapi.responses import PlainTextResponse  # noqa: E402

app = FastAPI()


@app.get("/", response_class=PlainTextResponse)
async def hello():
    return "Hello, World!"


@app.get("/realistic", response_class=PlainTextResponse)
def realistic():
    return realistic_work("bench")


if MODE == "floor":
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
    from opentelemetry.instrumentation.sqlite3 import SQLite3Instrumentor
    from opentelemetry.instrumentation.urllib import URLLibInstrumentor

    provider = floor_provider()
    FastAPIInstrumentor.instrument_app(app, tracer_provider=provider)
    SQLite3Instrumentor().instrument(tracer_provider=provider)
    URLLibInstrumentor().instrument(tracer_provider=provider)
elif MODE == "ours":
    from fastapi_ai import ApplicationInsightsMiddleware

    app.add_middleware(ApplicationInsightsMiddleware, connection_string=CS, role_name="bench-fastapi")
