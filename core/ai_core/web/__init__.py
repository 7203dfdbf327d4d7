"""The request layer: what an incoming request means for telemetry, written once for every adapter.

Plain values in and out, no framework imports: an adapter (``django_ai``, ``flask_ai``,
``fastapi_ai``) reads its framework's objects and calls these.
"""
