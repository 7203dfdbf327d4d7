"""Which span attributes carry a request's route, client IP, user and app role, and their readers.

The request layer (``ai_core.web.annotation``) writes these attributes on a request's server
span; the envelope mapping and the request context read them back with the readers below, so
a request, its dependencies, its logs and its exceptions all agree on who called and how the
request is named (README, "Deliberate differences" 1, 3, 4 and 5). They live in the core
because the envelopes need them: the request layer builds on the core, never the reverse.
"""

from __future__ import annotations

from typing import Any, Mapping, MutableMapping, Optional

ROUTE = "http.route"
# Read in this order: the address an adapter resolved (trusted-proxy rule) is written to
# ``client.address``, which the stable HTTP conventions define as the originating client;
# the older keys are what the stock instrumentations set on their own.
CLIENT_ADDRESS = "client.address"
CLIENT_IP_KEYS = (CLIENT_ADDRESS, "http.client_ip", "net.peer.ip")
AUTH_USER_ID = "enduser.id"  # -> ai.user.authUserId
USER_ID = "enduser.pseudo.id"  # -> ai.user.id
STATUS_CODE_KEYS = ("http.response.status_code", "http.status_code")
# The role of the app that served the request, when one process serves several apps with
# their own role names (README, "Where the role name comes from"): set on the request span,
# it becomes ai.cloud.role of the request and of every item recorded inside it.
APP_ROLE = "ai.cloud.role"

# Envelope tags these attributes become, shared by spans and logs.
TAG_OPERATION_NAME = "ai.operation.name"
TAG_CLIENT_IP = "ai.location.ip"
TAG_AUTH_USER_ID = "ai.user.authUserId"
TAG_USER_ID = "ai.user.id"
TAG_ROLE = "ai.cloud.role"


def _first(attrs: Optional[Mapping[str, Any]], keys: tuple) -> Optional[str]:
    if not attrs:
        return None
    for key in keys:
        value = attrs.get(key)
        if value:
            return value if value.__class__ is str else str(value)
    return None


def client_ip_of(attrs: Optional[Mapping[str, Any]]) -> Optional[str]:
    """The client address a request's attributes carry (``ai.location.ip``)."""
    return _first(attrs, CLIENT_IP_KEYS)


def auth_user_id_of(attrs: Optional[Mapping[str, Any]]) -> Optional[str]:
    """The authenticated user ID (``ai.user.authUserId``)."""
    return _first(attrs, (AUTH_USER_ID,))


def user_id_of(attrs: Optional[Mapping[str, Any]]) -> Optional[str]:
    """The anonymous/pseudonymous user ID (``ai.user.id``)."""
    return _first(attrs, (USER_ID,))


def app_role_of(attrs: Optional[Mapping[str, Any]]) -> Optional[str]:
    """The role name of the app that served the request, if it has its own."""
    return _first(attrs, (APP_ROLE,))


def fill_request_tags(
    tags: MutableMapping[str, Any],
    operation_name: Optional[str],
    client_ip: Optional[str],
    auth_user_id: Optional[str],
    user_id: Optional[str],
    replace_name: bool,
    role_name: Optional[str] = None,
) -> None:
    """Give an item recorded inside a request that request's name, client IP, user and app role.

    ``replace_name``: a dependency's own name is replaced (grouping it under its request is the
    point), while a log record that set ``ai.operation.name`` itself keeps it. IP and user
    tags the item set itself always win. ``role_name``: the role of the app that served the
    request, when it has its own (it replaces the process's role the part-A tags gave).
    """
    if operation_name and (replace_name or TAG_OPERATION_NAME not in tags):
        tags[TAG_OPERATION_NAME] = operation_name
    if client_ip and TAG_CLIENT_IP not in tags:
        tags[TAG_CLIENT_IP] = client_ip
    if auth_user_id and TAG_AUTH_USER_ID not in tags:
        tags[TAG_AUTH_USER_ID] = auth_user_id
    if user_id and TAG_USER_ID not in tags:
        tags[TAG_USER_ID] = user_id
    if role_name:
        tags[TAG_ROLE] = role_name
