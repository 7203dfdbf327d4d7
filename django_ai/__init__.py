"""Application Insights for Django: add ``"django_ai"`` to ``INSTALLED_APPS``.

Options come from ``settings.APPLICATION_INSIGHTS = {"CONNECTION_STRING": ..., ...}`` (the
README's option table, upper-cased). Requests, ORM queries, outgoing calls, exceptions, logs
and metrics are then sent; nothing else needs changing (no edits to ``wsgi.py``, ``asgi.py``,
``manage.py`` or ``MIDDLEWARE``).
"""
