"""Application Insights for FastAPI and Starlette: one middleware.

    from fastapi_ai import ApplicationInsightsMiddleware

    app.add_middleware(ApplicationInsightsMiddleware, connection_string=..., role_name="shop-api")

Options are the README's option table, as keywords. Requests (named by route template),
outgoing calls and SQL, exceptions, logs and metrics are then sent; the ASGI lifespan
shutdown delivers what is still queued.
"""

from fastapi_ai.middleware import ApplicationInsightsMiddleware

__all__ = ["ApplicationInsightsMiddleware"]
