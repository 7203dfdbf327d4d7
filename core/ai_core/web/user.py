"""Who made a request: the ``user_id`` option resolved once, read per request.

``True`` uses the framework's own reader (the adapter supplies it: Django's
``request.user.pk``, Flask-Login's ``current_user``, Starlette's ``scope["user"]``), ``False``
reads nothing, a callable ``(request) -> user or user ID`` or the dotted path of one replaces it.
What any reader answers goes through one rule, :func:`user_id_of` (README, "The request layer"), so a
callable may return the user object its app already has (``request.state.user``).
The reader runs on the request path, so it is guarded: one that raises or returns something
that is no user loses that user tag (counted and logged once), never the request. It runs
with instrumentation suppressed: the query a user loader makes is ours, not the request's
dependency.
"""

from __future__ import annotations

import uuid
from typing import Any, Optional, Union

from opentelemetry.instrumentation.utils import suppress_instrumentation

from ai_core.diagnostics import DROPS
from ai_core.errors import ConfigurationError
from ai_core.options import UserReader, import_reader

__all__ = ["MAX_USER_ID", "UserReader", "UserResolver", "import_reader", "user_id_of"]

MAX_USER_ID = 1024  # the schema's limit for ai.user.authUserId

_ID_TYPES = (str, int, uuid.UUID)


def user_id_of(user: Any) -> Optional[str]:
    """The authenticated user ID that ``user`` (a reader's answer) stands for; None for no user.

    ``user`` is a user ID (``str``, ``int``, ``uuid.UUID``), or a user: an object whose
    ``is_authenticated`` is false is anonymous (None); otherwise its ID is ``get_id()``
    (Flask-Login's ``UserMixin``), else ``pk`` (a Django model's primary key, whatever the
    field is called), else ``id`` (SQLModel, SQLAlchemy, a dataclass), else a mapping's or
    row's ``"id"`` (a dict, ``sqlite3.Row``).

    Raises:
        TypeError: naming the type, when ``user`` is none of these (a bool, a float, an
            object without an ID), so a reader that returns the wrong thing is reported.
    """
    if user is None:
        return None
    if isinstance(user, bool):
        raise TypeError("a user ID, not a bool")
    if isinstance(user, _ID_TYPES):
        return str(user)
    if not getattr(user, "is_authenticated", True):
        return None
    get_id = getattr(user, "get_id", None)
    if callable(get_id):
        found = get_id()
    else:
        found = getattr(user, "pk", None)
        if found is None:
            found = getattr(user, "id", None)
        if found is None:
            try:
                found = user["id"]
            except (TypeError, KeyError, IndexError):
                raise TypeError("a user ID or a user with get_id(), pk, id or ['id'], not %s"
                                % type(user).__name__) from None
    if found is None:
        return None
    if isinstance(found, _ID_TYPES) and not isinstance(found, bool):
        return str(found)
    raise TypeError("the ID of a %s is a %s, not a str, int or UUID" % (type(user).__name__, type(found).__name__))


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
        with suppress_instrumentation():  # a user loader's query is not the request's dependency
            try:
                answer = reader(request)
            except Exception as exc:  # a user's reader must not break the request
                DROPS.add("user tag: user_id reader %s raised %s" % (self._label, type(exc).__name__))
                return None
            try:
                value = answer if answer.__class__ is str else user_id_of(answer)
            except TypeError as exc:
                DROPS.add("user tag: user_id reader %s returned %s (%s)" % (self._label, type(answer).__name__, exc))
                return None
            except Exception as exc:  # a lazy user evaluated here, a get_id() that failed
                DROPS.add("user tag: user_id reader %s raised %s" % (self._label, type(exc).__name__))
                return None
        if value is None:
            return None
        value = value.strip()
        return value[:MAX_USER_ID] or None

