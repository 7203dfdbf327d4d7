"""Sign-ins as logs and a custom event (``ai_core.track_event`` does nothing when telemetry
is off)."""

import logging

from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.dispatch import receiver

import ai_core

log = logging.getLogger(__name__)


@receiver(user_logged_in)
def signed_in(sender, request, user, **kwargs) -> None:
    log.info("user %s signed in", user.get_username())
    ai_core.track_event("UserLoggedIn", properties={"method": "password"})


@receiver(user_login_failed)
def sign_in_failed(sender, credentials, request=None, **kwargs) -> None:
    log.warning("failed sign-in for %r", credentials.get("username"))
