"""Django's spelling of the option table: ``settings.APPLICATION_INSIGHTS = {"SAMPLING_RATIO": 0.5}``.

The core knows only canonical names (``sampling_ratio``); this module translates Django's
upper-case keys to them and labels a name the way a Django user wrote it, so every message
names the setting as it stands in ``settings.py``. No Django import: the doctor
(``python -m ai_core doctor``) reads settings modules with it too.
"""

from __future__ import annotations

from typing import Any, Dict, Mapping

from ai_core.errors import ConfigurationError
from ai_core.options import OPTIONS, did_you_mean, wrong_value

SETTING = "APPLICATION_INSIGHTS"
SOURCE = "settings"
"""Where messages say the options were read (``APPLICATION_INSIGHTS['SAMPLING_RATIO'] in settings``)."""


def django_key(name: str) -> str:
    """The key of option ``name`` in the ``APPLICATION_INSIGHTS`` settings dict."""
    return name.upper()


def label(name: str) -> str:
    """Option ``name`` as a Django user wrote it: ``APPLICATION_INSIGHTS['SAMPLING_RATIO']``."""
    return "%s[%r]" % (SETTING, django_key(name))


def options_from_settings(settings_dict: Mapping[str, Any]) -> Dict[str, Any]:
    """Canonical options from ``settings.APPLICATION_INSIGHTS`` (upper-case keys).

    Raises:
        ConfigurationError: not a dict, or an unknown key (with the closest valid one).
    """
    where = "settings.%s" % SETTING
    if not isinstance(settings_dict, Mapping):
        raise wrong_value(where, "a dict like {'CONNECTION_STRING': '...', 'SAMPLING_RATIO': 0.5}", settings_dict)
    by_key = {django_key(spec.name): spec.name for spec in OPTIONS}
    options: Dict[str, Any] = {}
    for key, value in settings_dict.items():
        if key not in by_key:
            suggestion = did_you_mean(key.upper() if isinstance(key, str) else key, by_key)
            raise ConfigurationError(
                f"{where} has an unknown key {key!r}{suggestion}; valid keys are {', '.join(by_key)}"
            )
        options[by_key[key]] = value
    return options
