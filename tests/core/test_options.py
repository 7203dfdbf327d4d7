"""The option table: defaults, precedence, every rejection's message, and the three spellings."""

from __future__ import annotations

import ipaddress
import logging
import re
from pathlib import Path
from typing import Any, Dict, Optional

import pytest

import ai_core.options as options_module
import ai_core.sampler as sampler_module
from ai_core.connection_string import ConnectionString
from ai_core.errors import ConfigurationError
from ai_core.options import OPTIONS, SUPPORTED_INSTRUMENTATIONS, Options, resolve_options
from ai_core.sampler import ApplicationInsightsSampler
# The framework spellings are the adapters' (the core takes canonical names and a label).
from django_ai.options import django_key
from django_ai.options import options_from_settings as options_from_django_settings
from flask_ai.options import flask_key
from flask_ai.options import options_from_config as options_from_flask_config

IKEY = "00000000-0000-0000-0000-000000000000"
SECRET = "4f1c2a9e-7b3d-4c8e-9a1f-0d2e3c4b5a69"
CS = f"InstrumentationKey={SECRET};IngestionEndpoint=https://code.example/"
ENV_CS = f"InstrumentationKey={IKEY};IngestionEndpoint=https://env.example/"
NO_ENV: Dict[str, str] = {}


def resolve(environ: Optional[Dict[str, str]] = None, **explicit: Any) -> Options:
    return resolve_options(explicit, environ=NO_ENV if environ is None else environ)


def error(**explicit: Any) -> str:
    with pytest.raises(ConfigurationError) as err:
        resolve(**explicit)
    return str(err.value)


# --- the table itself ---------------------------------------------------------------------------


def test_table_and_options_have_the_same_names_in_the_same_order() -> None:
    assert [s.name for s in OPTIONS] == list(Options.__dataclass_fields__)


def test_every_option_has_a_one_line_doc() -> None:
    for spec in OPTIONS:
        assert spec.doc and "\n" not in spec.doc, spec.name


def test_defaults_are_the_design_defaults() -> None:
    o = resolve()
    assert o == Options()
    assert o.connection_string is None and o.enabled is True and o.role_name is None
    assert o.sampling_ratio == 1.0 and o.excluded_urls == () and o.excluded_routes == ()
    assert o.user_id is True and o.trusted_proxies == 0
    assert o.logging_level == logging.WARNING and o.logger_name == ""
    assert o.instrumentations is None and o.storage_directory is None and o.disable_offline_storage is False
    assert o.otlp_endpoint is None and o.span_processors == () and o.log_record_processors == ()
    assert o.telemetry_processors == () and o.credential is None
    assert {s.name: s.default for s in OPTIONS}["sampling_ratio"] == 1.0


def test_only_the_connection_string_has_an_environment_fallback_here() -> None:
    # OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES are applied when the resource is built.
    assert {s.name: s.env for s in OPTIONS if s.env} == {"connection_string": "APPLICATIONINSIGHTS_CONNECTION_STRING"}
    assert resolve({"OTEL_SERVICE_NAME": "svc"}).role_name is None


def test_sampling_ratio_validator_is_shared_with_the_sampler() -> None:
    assert options_module.validate_sampling_ratio is sampler_module.validate_sampling_ratio
    with pytest.raises(ConfigurationError) as from_sampler:
        ApplicationInsightsSampler(1.5)
    # One message shape; only the label says where the value came from.
    assert error(sampling_ratio=1.5) == str(from_sampler.value).replace("sampling_ratio", "sampling_ratio in configure()", 1)


# --- precedence -----------------------------------------------------------------------------------


def test_connection_string_falls_back_to_the_environment() -> None:
    o = resolve({"APPLICATIONINSIGHTS_CONNECTION_STRING": ENV_CS})
    assert o.connection_string == ConnectionString(IKEY, "https://env.example")


def test_explicit_connection_string_beats_the_environment() -> None:
    o = resolve({"APPLICATIONINSIGHTS_CONNECTION_STRING": ENV_CS}, connection_string=CS)
    assert o.connection_string == ConnectionString(SECRET, "https://code.example")


def test_legacy_instrumentation_key_variable_is_a_last_resort() -> None:
    o = resolve({"APPINSIGHTS_INSTRUMENTATIONKEY": IKEY})
    assert o.connection_string == ConnectionString(IKEY)


def test_no_connection_string_anywhere_is_none_not_an_error() -> None:
    assert resolve({"APPLICATIONINSIGHTS_CONNECTION_STRING": "  "}).connection_string is None


def test_none_means_not_set() -> None:
    o = resolve({"APPLICATIONINSIGHTS_CONNECTION_STRING": ENV_CS}, connection_string=None, sampling_ratio=None, enabled=None)
    assert o.connection_string is not None and o.connection_string.instrumentation_key == IKEY
    assert o.sampling_ratio == 1.0 and o.enabled is True


def test_explicit_values_are_normalised() -> None:
    proc = lambda envelope: envelope  # noqa: E731
    o = resolve(
        role_name="  shop  ",
        sampling_ratio=1,
        excluded_urls=["^/health$", re.compile("/static/")],
        excluded_routes=("health",),
        trusted_proxies=["10.0.0.0/8", " fd00::/8 ", "192.168.1.7"],
        logging_level="info",
        instrumentations=["Requests", "httpx", "requests"],
        storage_directory=Path("/var/tmp/ai"),
        otlp_endpoint=" http://localhost:4318 ",
        telemetry_processors=[proc],
    )
    assert o.role_name == "shop"
    assert o.sampling_ratio == 1.0 and isinstance(o.sampling_ratio, float)
    assert [p.pattern for p in o.excluded_urls] == ["^/health$", "/static/"]
    assert o.excluded_urls[0].search("/health")
    assert o.excluded_routes == ("health",)
    assert o.trusted_proxies == (
        ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("fd00::/8"), ipaddress.ip_network("192.168.1.7/32"),
    )
    assert o.logging_level == logging.INFO
    assert o.instrumentations == ("requests", "httpx")
    assert o.storage_directory == "/var/tmp/ai"
    assert o.otlp_endpoint == "http://localhost:4318"
    assert o.telemetry_processors == (proc,)


@pytest.mark.parametrize("level,number", [("WARNING", 30), ("warn", 30), ("Debug", 10), (25, 25), (0, 0), ("NOTSET", 0)])
def test_logging_level_names_and_numbers(level: Any, number: int) -> None:
    assert resolve(logging_level=level).logging_level == number


def test_logging_level_accepts_a_registered_custom_name() -> None:
    logging.addLevelName(25, "NOTICE")
    assert resolve(logging_level="notice").logging_level == 25


def test_user_id_accepts_bools_and_callables() -> None:
    fn = lambda request: "u1"  # noqa: E731
    assert resolve(user_id=False).user_id is False
    assert resolve(user_id=fn).user_id is fn


def test_processors_are_kept_in_order() -> None:
    class SpanProc:
        def on_start(self, span: Any, parent_context: Any = None) -> None: ...
        def on_end(self, span: Any) -> None: ...

    class LogProc:
        def on_emit(self, record: Any) -> None: ...

    a, b, c = SpanProc(), SpanProc(), LogProc()
    o = resolve(span_processors=[a, b], log_record_processors=(c,))
    assert o.span_processors == (a, b) and o.log_record_processors == (c,)


def test_credential_with_get_token_is_accepted() -> None:
    class Cred:
        def get_token(self, *scopes: str) -> Any: ...

    cred = Cred()
    assert resolve(credential=cred).credential is cred


# --- every rejection says which option, what it got and what is expected --------------------------


def test_unknown_option_suggests_the_closest_name() -> None:
    message = error(sampling_rate=0.5)
    assert "unknown option 'sampling_rate'" in message and "did you mean 'sampling_ratio'?" in message
    assert "configure()" in message


def test_unknown_option_without_a_close_name_lists_the_valid_ones() -> None:
    message = error(zzz=1)
    assert "did you mean" not in message and "connection_string, enabled" in message


def test_connection_string_of_wrong_type_names_only_the_type() -> None:
    message = error(connection_string=SECRET.encode())
    assert message.startswith("connection_string in configure() must be a str")
    assert "got bytes" in message and SECRET not in message


def test_malformed_connection_string_names_the_option_and_part_but_not_the_key() -> None:
    message = error(connection_string=f"InstrumentationKey={SECRET};IngestionEndpoint=ftp://x")
    assert message.startswith("connection_string in configure(): IngestionEndpoint")
    assert SECRET not in message


def test_malformed_environment_connection_string_names_the_variable() -> None:
    with pytest.raises(ConfigurationError) as err:
        resolve({"APPLICATIONINSIGHTS_CONNECTION_STRING": "InstrumentationKey=oops-secret"})
    assert "APPLICATIONINSIGHTS_CONNECTION_STRING" in str(err.value) and "oops-secret" not in str(err.value)


@pytest.mark.parametrize("value", ["false", "True", 0, 1])
def test_enabled_must_be_a_bool(value: Any) -> None:
    message = error(enabled=value)
    assert message.startswith("enabled in configure() must be True or False, got ")
    assert type(value).__name__ in message


def test_disable_offline_storage_must_be_a_bool() -> None:
    assert error(disable_offline_storage="yes") == "disable_offline_storage in configure() must be True or False, got str 'yes'"


@pytest.mark.parametrize("option", ["role_name", "role_instance"])
@pytest.mark.parametrize("value", ["", "   ", 42])
def test_role_names_must_be_non_empty_strings(option: str, value: Any) -> None:
    message = error(**{option: value})
    assert message.startswith(f"{option} in configure() must be a non-empty string, got {type(value).__name__}")


@pytest.mark.parametrize("value", [2, -0.5, float("nan"), "0.5", True])
def test_bad_sampling_ratio(value: Any) -> None:
    message = error(sampling_ratio=value)
    assert message.startswith("sampling_ratio in configure() must be")
    assert "0.0 to 1.0" in message and repr(value) in message


def test_excluded_urls_bad_regex_names_the_pattern() -> None:
    message = error(excluded_urls=["^/ok$", "/items/(unclosed"])
    assert message.startswith("excluded_urls in configure(): '/items/(unclosed' is not a valid regular expression")
    assert "missing )" in message


@pytest.mark.parametrize("value", ["^/health$", [b"/x"], [1], 5])
def test_excluded_urls_must_be_a_list_of_strings(value: Any) -> None:
    message = error(excluded_urls=value)
    assert message.startswith("excluded_urls in configure() must be a list of regular expressions")
    assert "e.g. ['^/health$'" in message


@pytest.mark.parametrize("value", ["health", [""], [None]])
def test_excluded_routes_must_be_a_list_of_names(value: Any) -> None:
    assert error(excluded_routes=value).startswith("excluded_routes in configure() must be a list of route names")


@pytest.mark.parametrize("value", [1, ["id"]])
def test_user_id_must_be_bool_or_callable(value: Any) -> None:
    message = error(user_id=value)
    assert message.startswith("user_id in configure() must be True (the authenticated user's primary key), False, a callable")


@pytest.mark.parametrize(
    "value, says",
    [
        ("yes", "must be a dotted path like 'myapp.telemetry.user_of', got 'yes'"),
        ("no_such_module_xyz.user_of", "cannot import 'no_such_module_xyz.user_of'"),
        ("os.path.no_such_function", "cannot import 'os.path.no_such_function'"),
        ("os.sep", "'os.sep' is not callable"),
    ],
)
def test_user_id_dotted_path_that_does_not_import_fails_at_start_up(value: str, says: str) -> None:
    message = error(user_id=value)
    assert message.startswith("user_id in configure()") and says in message


def test_user_id_dotted_path_resolves_to_the_callable() -> None:
    import os.path

    assert resolve_options({"user_id": "os.path.basename"}).user_id is os.path.basename
    assert resolve_options({"user_id": "os.path:basename"}).user_id is os.path.basename


@pytest.mark.parametrize("value", [-1, True, "10.0.0.0/8", 1.5])
def test_trusted_proxies_of_wrong_type(value: Any) -> None:
    message = error(trusted_proxies=value)
    assert message.startswith("trusted_proxies in configure() must be a number of proxy hops (int >= 0) or a list")
    assert type(value).__name__ in message


def test_trusted_proxies_bad_cidr_names_it() -> None:
    message = error(trusted_proxies=["10.0.0.0/8", "10.0.0.300/8"])
    assert message.startswith("trusted_proxies in configure(): '10.0.0.300/8' is not a network in CIDR notation")


def test_trusted_proxies_host_bits_get_a_suggestion() -> None:
    assert "did you mean '10.0.0.0/8'?" in error(trusted_proxies=["10.0.0.5/8"])


@pytest.mark.parametrize("value", ["verbose", -1, 2.5, True])
def test_bad_logging_level(value: Any) -> None:
    message = error(logging_level=value)
    assert message.startswith("logging_level in configure() must be a logging level name (DEBUG, INFO, WARNING, ERROR, CRITICAL) or an int >= 0")
    assert f"got {type(value).__name__} {value!r}" in message


def test_logger_name_must_be_a_string() -> None:
    assert error(logger_name=42).startswith("logger_name in configure() must be a logger name")


def test_unknown_instrumentation_lists_the_valid_ones() -> None:
    message = error(instrumentations=["requests", "reqests"])
    assert message.startswith("instrumentations in configure(): unknown instrumentation str 'reqests'")
    assert "did you mean 'requests'?" in message
    assert "valid names are " + ", ".join(SUPPORTED_INSTRUMENTATIONS) in message


def test_framework_instrumentations_are_not_options() -> None:
    # The adapters own the framework instrumentation; naming it here would be a second switch.
    assert "unknown instrumentation str 'django'" in error(instrumentations=["django"])


def test_instrumentations_must_be_a_list() -> None:
    message = error(instrumentations="requests")
    assert message.startswith("instrumentations in configure() must be a list of instrumentation names from: requests")


@pytest.mark.parametrize("value", ["", 3])
def test_bad_storage_directory(value: Any) -> None:
    assert error(storage_directory=value).startswith("storage_directory in configure() must be a directory path")


@pytest.mark.parametrize("value", ["localhost:4318", "grpc://collector:4317", "http://", "http://host:port", 4318])
def test_bad_otlp_endpoint(value: Any) -> None:
    message = error(otlp_endpoint=value)
    assert message.startswith("otlp_endpoint in configure() must be an http(s) URL of an OpenTelemetry Collector")


def test_span_processor_without_the_interface() -> None:
    message = error(span_processors=[object()])
    assert message.startswith("span_processors in configure() must be a list of OpenTelemetry processors (objects with on_start and on_end)")
    assert "got object" in message


def test_log_record_processor_without_on_emit() -> None:
    assert "(objects with on_emit), got function" in error(log_record_processors=[lambda r: r])


def test_telemetry_processors_must_be_callables() -> None:
    message = error(telemetry_processors=[lambda e: e, "drop"])
    assert message == "telemetry_processors in configure() must be a list of callables (envelope: dict) -> dict or None, got str 'drop'"


def test_credential_without_get_token_names_only_its_type() -> None:
    message = error(credential="my-client-secret")
    assert message.startswith("credential in configure() must be an azure-identity credential (an object with get_token)")
    assert message.endswith("got str") and "my-client-secret" not in message


def test_long_values_are_shortened_in_messages() -> None:
    message = error(role_instance=["x" * 500])
    assert len(message) < 250 and message.endswith("...")


def test_source_names_where_the_value_came_from() -> None:
    with pytest.raises(ConfigurationError, match=r"^sampling_ratio in ApplicationInsightsMiddleware must be"):
        resolve_options({"sampling_ratio": 3}, environ={}, source="ApplicationInsightsMiddleware")


# --- equality for a second configure() -------------------------------------------------------------


def test_same_options_compare_equal_and_differences_are_named() -> None:
    proc = lambda e: e  # noqa: E731
    first = resolve(connection_string=CS, excluded_urls=["^/h"], telemetry_processors=[proc])
    again = resolve(connection_string=CS, excluded_urls=["^/h"], telemetry_processors=(proc,))
    assert first == again and first.fingerprint() == again.fingerprint()
    other = resolve(connection_string=CS, excluded_urls=["^/h"], telemetry_processors=[lambda e: e], sampling_ratio=0.5)
    assert first != other
    assert first.differences(other) == ("sampling_ratio", "telemetry_processors")


def test_options_repr_never_shows_the_key() -> None:
    assert SECRET not in repr(resolve(connection_string=CS))


# --- the Django spelling ---------------------------------------------------------------------------


def test_django_settings_use_upper_case_keys() -> None:
    settings = {"CONNECTION_STRING": CS, "SAMPLING_RATIO": 0.25, "EXCLUDED_ROUTES": ["health"], "TRUSTED_PROXIES": 1}
    options = options_from_django_settings(settings)
    assert options == {"connection_string": CS, "sampling_ratio": 0.25, "excluded_routes": ["health"], "trusted_proxies": 1}
    o = resolve_options(options, environ={}, source="settings.APPLICATION_INSIGHTS", spelling=django_key)
    assert o.sampling_ratio == 0.25 and o.trusted_proxies == 1


def test_django_unknown_key_suggests_the_right_one() -> None:
    with pytest.raises(ConfigurationError) as err:
        options_from_django_settings({"SAMPLING_RATE": 0.5})
    message = str(err.value)
    assert message.startswith("settings.APPLICATION_INSIGHTS has an unknown key 'SAMPLING_RATE'")
    assert "did you mean 'SAMPLING_RATIO'?" in message


def test_django_lower_case_key_is_pointed_to_its_upper_case_spelling() -> None:
    with pytest.raises(ConfigurationError, match="unknown key 'sampling_ratio'; did you mean 'SAMPLING_RATIO'"):
        options_from_django_settings({"sampling_ratio": 0.5})


def test_django_settings_must_be_a_dict() -> None:
    with pytest.raises(ConfigurationError, match=r"^settings.APPLICATION_INSIGHTS must be a dict"):
        options_from_django_settings("InstrumentationKey=...")  # type: ignore[arg-type]


def test_django_value_errors_use_the_django_spelling() -> None:
    options = options_from_django_settings({"SAMPLING_RATIO": "50%"})
    with pytest.raises(ConfigurationError, match=r"^SAMPLING_RATIO in settings.APPLICATION_INSIGHTS must be a number"):
        resolve_options(options, environ={}, source="settings.APPLICATION_INSIGHTS", spelling=django_key)


def test_django_settings_without_connection_string_fall_back_to_env() -> None:
    o = resolve_options(options_from_django_settings({}), environ={"APPLICATIONINSIGHTS_CONNECTION_STRING": ENV_CS})
    assert o.connection_string is not None and o.connection_string.ingestion_endpoint == "https://env.example"


# --- the Flask spelling ----------------------------------------------------------------------------


def test_flask_config_uses_prefixed_keys_and_ignores_the_rest() -> None:
    config = {
        "APPLICATION_INSIGHTS_CONNECTION_STRING": CS,
        "APPLICATION_INSIGHTS_EXCLUDED_URLS": ["^/static/"],
        "SECRET_KEY": "x",
        "DEBUG": True,
        "APPINSIGHTS_INSTRUMENTATIONKEY": IKEY,  # the old applicationinsights extension's key
    }
    assert options_from_flask_config(config) == {"connection_string": CS, "excluded_urls": ["^/static/"]}


def test_flask_unknown_prefixed_key_suggests_the_right_one() -> None:
    with pytest.raises(ConfigurationError) as err:
        options_from_flask_config({"APPLICATION_INSIGHTS_LOGING_LEVEL": "INFO"})
    message = str(err.value)
    assert message.startswith("app.config has an unknown key 'APPLICATION_INSIGHTS_LOGING_LEVEL'")
    assert "did you mean 'APPLICATION_INSIGHTS_LOGGING_LEVEL'?" in message


def test_flask_config_with_the_django_dict_spelling_is_refused() -> None:
    with pytest.raises(ConfigurationError, match=r"app.config\['APPLICATION_INSIGHTS_CONNECTION_STRING'\]"):
        options_from_flask_config({"APPLICATION_INSIGHTS": {"CONNECTION_STRING": CS}})


def test_flask_value_errors_use_the_flask_spelling() -> None:
    options = options_from_flask_config({"APPLICATION_INSIGHTS_ENABLED": "false"})
    with pytest.raises(ConfigurationError, match=r"^APPLICATION_INSIGHTS_ENABLED in app.config must be True or False, got str 'false'"):
        resolve_options(options, environ={}, source="app.config", spelling=flask_key)


def test_every_option_has_all_three_spellings() -> None:
    for spec in OPTIONS:
        assert options_from_django_settings({django_key(spec.name): None}) == {spec.name: None}
        assert options_from_flask_config({flask_key(spec.name): None}) == {spec.name: None}
    assert resolve_options({s.name: None for s in OPTIONS}, environ={}) == Options()
