"""The ``user_id`` option: the framework's reader, none, or the user's callable, never raising
into the request."""

import logging

import pytest

from ai_core.diagnostics import DROPS
from ai_core.errors import ConfigurationError
from ai_core.web.user import MAX_USER_ID, UserResolver


class Request:
    def __init__(self, user=None):
        self.user = user


def framework_reader(request):
    return None if request.user is None else str(request.user)


def test_true_uses_the_framework_reader():
    assert UserResolver(True, framework_reader)(Request("42")) == "42"
    assert UserResolver(True, framework_reader)(Request(None)) is None  # anonymous: nothing


def test_false_reads_nothing_even_with_a_framework_reader():
    resolver = UserResolver(False, framework_reader)
    assert not resolver and resolver(Request("42")) is None


def test_a_callable_replaces_the_framework_reader():
    assert UserResolver(lambda r: "tenant-7/" + r.user, framework_reader)(Request("42")) == "tenant-7/42"


def test_a_dotted_path_is_imported():
    resolver = UserResolver("os.path.basename")
    assert resolver("/home/alice") == "alice"


def test_a_dotted_path_that_does_not_import_is_a_configuration_error():
    with pytest.raises(ConfigurationError, match=r"USER_ID.*cannot import 'nowhere_xyz.reader'"):
        UserResolver("nowhere_xyz.reader", option_label="APPLICATION_INSIGHTS['USER_ID']")


def test_values_are_trimmed_to_the_schema_limit():
    assert UserResolver(lambda r: "  bob  ")(None) == "bob"
    assert UserResolver(lambda r: "x" * 5000)(None) == "x" * MAX_USER_ID
    assert UserResolver(lambda r: "   ")(None) is None


def test_a_raising_reader_is_counted_and_the_request_goes_on(caplog):
    def broken(request):
        raise RuntimeError("db down")

    before = DROPS.totals()
    resolver = UserResolver(broken)
    with caplog.at_level(logging.WARNING, logger="ai_core"):
        assert resolver(Request()) is None
        assert resolver(Request()) is None
    after = DROPS.totals()
    key = next(k for k in after if "raised RuntimeError" in k and "broken" in k)
    assert after[key] - before.get(key, 0) == 2


def test_a_result_that_is_no_user_is_counted_not_sent():
    before = DROPS.totals()
    assert UserResolver(lambda r: 4.2)(Request()) is None
    after = DROPS.totals()
    key = next(k for k in after if "returned float" in k and "test_a_result_that" in k)
    assert after[key] - before.get(key, 0) == 1
