"""``manage.py check`` shows a bad ``APPLICATION_INSIGHTS`` setting as a system check error."""

from __future__ import annotations

from typing import Any, List, Optional

from django.core import checks

# The configuration error ready() met, if any (set once per process).
problem: Optional[str] = None


@checks.register()
def application_insights_settings(app_configs: Any = None, **kwargs: Any) -> List[checks.CheckMessage]:
    if problem is None:
        return []
    return [
        checks.Error(
            problem,
            hint="Fix settings.APPLICATION_INSIGHTS (option names and values: the README's options table).",
            id="django_ai.E001",
        )
    ]
