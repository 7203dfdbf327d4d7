"""A plain ASGI app for the Live Metrics process-model tests (uvicorn --workers N)."""

import os

from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware

import ai_core

ai_core.configure(role_name="live-app", disable_offline_storage=True)


async def _app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": str(os.getpid()).encode()})


application = OpenTelemetryMiddleware(_app)
