"""Flask's spelling of the option table: ``app.config["APPLICATION_INSIGHTS_SAMPLING_RATIO"] = 0.5``.

The core knows only canonical names (``sampling_ratio``); this module translates Flask config
keys to them and labels a name the way a Flask user wrote it, so every message names the key
as it stands in the app's config. Keyword arguments of ``ApplicationInsights(...)`` are
canonical names already and are never turned into config keys. No Flask import: the doctor
(``python -m ai_core doctor``) reads app configs with it too.
"""

from __future__ import annotations

from typing import Any, Dict, Mapping

from ai_core.errors import ConfigurationError
from ai_core.options import OPTIONS, did_you_mean

PREFIX = "APPLICATION_INSIGHTS_"
SOURCE = "the Flask app"
"""Where messages say the options were read (``app.config['APPLICATION_INSIGHTS_X'] in the Flask app``)."""
_DJANGO_SETTING = "APPLICATION_INSIGHTS"  # Django's spelling, refused here with a pointer


def flask_key(name: str) -> str:
    """The ``app.config`` key of option ``name``."""
    return PREFIX + name.upper()


def label(name: str) -> str:
    """Option ``name`` as a Flask user wrote it: ``app.config['APPLICATION_INSIGHTS_SAMPLING_RATIO']``."""
    return "app.config[%r]" % flask_key(name)


def options_from_config(config: Mapping[str, Any]) -> Dict[str, Any]:
    """Canonical options from ``app.config["APPLICATION_INSIGHTS_<NAME>"]``; other keys are ignored.

    Raises:
        ConfigurationError: an unknown ``APPLICATION_INSIGHTS_*`` key (with the closest valid
            one), or Django's ``APPLICATION_INSIGHTS`` dict, which Flask would otherwise ignore
            without a word.
    """
    by_key = {flask_key(spec.name): spec.name for spec in OPTIONS}
    if _DJANGO_SETTING in config:
        raise ConfigurationError(
            f"app.config[{_DJANGO_SETTING!r}] is not read by Flask: use one key per option, "
            f"e.g. app.config['{flask_key('connection_string')}']"
        )
    options: Dict[str, Any] = {}
    for key, value in config.items():
        if not isinstance(key, str) or not key.startswith(PREFIX):
            continue
        if key not in by_key:
            raise ConfigurationError(
                f"app.config has an unknown key {key!r}{did_you_mean(key.upper(), by_key)}; "
                f"valid keys are {', '.join(by_key)}"
            )
        options[by_key[key]] = value
    return options
