"""Who made a request: the ``user_id`` option resolved once, read per request.

``True`` uses the framework's own reader (the adapter supplies it: Django's
``request.user.pk``, Flask-Login's ``current_user``, Starlette's ``scope["user"]``), ``False``
reads nothing, a callable ``(request) -> str | None`` or the dotted path of one replaces it.
The reader runs on the request path, so it is guarded: one that raises or returns something
other than a string loses that user tag (counted and logged once), never the request.
"""

from __future__ import annotations

from typing import Any, Optional, Union

from ai_core.diagnostics import DROPS
from ai_core.errors import ConfigurationError
from ai_core.options import UserReader, import_reader

__all__ = ["MAX_USER_ID", "UserReader", "UserResolver", "import_reader"]

MAX_USER_ID = 1024  # the schema's limit for ai.user.authUserId


class UserResolver:
    """``resolver(request)`` -> the authenticated user ID to record, or None."""

    __slots__ = ("_reader", "_label")

    def __init__(
        self,
        option: Union[bool, str, UserReader],
        default_reader: Optional[UserReader] = None,
        option_label: str = "user_id",
    ) -> None:
        if option is True:
            self._reader = default_reader
        elif option is False or option is None:
            self._reader = None
        elif isinstance(option, str):
            self._reader = import_reader(option, option_label)
        elif callable(option):
            self._reader = option
        else:
            raise ConfigurationError(
                f"{option_label} must be True, False, a callable (request) -> str or None, or its dotted path; "
                f"got {type(option).__name__}"
            )
        self._label = getattr(self._reader, "__qualname__", repr(self._reader))

    def __bool__(self) -> bool:
        return self._reader is not None

    def __call__(self, request: Any) -> Optional[str]:
        reader = self._reader
        if reader is None:
            return None
        try:
            value = reader(request)
        except Exception as exc:  # a user's reader must not break the request
            DROPS.add("user tag: user_id reader %s raised %s" % (self._label, type(exc).__name__))
            return None
        if value is None:
            return None
        if value.__class__ is not str and not isinstance(value, str):
            DROPS.add("user tag: user_id reader %s returned %s, not a str" % (self._label, type(value).__name__))
            return None
        value = value.strip()
        return value[:MAX_USER_ID] or None
