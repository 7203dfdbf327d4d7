"""What a user reader may answer: a user ID, or the user itself (an object with ``get_id()``,
``pk`` or ``id``, a mapping with ``"id"``), the same rule for every framework and for a
``user_id`` callable."""

import uuid

import pytest

from ai_core.diagnostics import DROPS
from ai_core.web.user import UserResolver, user_id_of


class LoginUser:  # Flask-Login's UserMixin
    is_authenticated = True

    def get_id(self):
        return "alice"


class DjangoUser:
    is_authenticated = True
    pk = 7
    id = 99  # a model whose primary key is another field: pk wins


class Anonymous:
    is_authenticated = False
    id = None


class Model:  # SQLModel / SQLAlchemy row: no is_authenticated
    def __init__(self, id):
        self.id = id


USER_UUID = uuid.UUID("5d1a4f0e-8f37-4c54-9d9b-0d2a3e1b6c11")


@pytest.mark.parametrize("answer, expected", [
    ("alice", "alice"),
    (42, "42"),
    (USER_UUID, str(USER_UUID)),
    (LoginUser(), "alice"),
    (DjangoUser(), "7"),
    (Model(USER_UUID), str(USER_UUID)),
    (Model(3), "3"),
    ({"id": 5, "name": "bob"}, "5"),
    (None, None),
    (Anonymous(), None),
], ids=["str", "int", "uuid", "get_id", "pk", "model-uuid-id", "model-int-id", "mapping", "none", "anonymous"])
def test_a_user_or_its_id_gives_the_user_id(answer, expected):
    assert user_id_of(answer) == expected


@pytest.mark.parametrize("answer", [True, 1.5, object(), {"name": "bob"}, Model(["x"])],
                         ids=["bool", "float", "object-without-id", "mapping-without-id", "id-of-odd-type"])
def test_anything_else_is_a_type_error_naming_what_it_got(answer):
    with pytest.raises(TypeError, match=type(answer).__name__):
        user_id_of(answer)


def test_a_user_id_callable_may_return_the_user_object():
    """What ``Depends(get_current_user)`` gives a FastAPI app, kept on ``request.state``."""

    class Request:
        class state:
            user = Model(USER_UUID)

    assert UserResolver(lambda request: request.state.user)(Request()) == str(USER_UUID)


def test_a_callable_returning_something_that_is_no_user_is_counted_not_sent():
    before = DROPS.totals()
    assert UserResolver(lambda request: 1.5)(None) is None
    after = DROPS.totals()
    key = next(k for k in after if "returned float" in k and "something_that_is_no_user" in k)
    assert after[key] - before.get(key, 0) == 1


def test_a_reader_runs_with_instrumentation_suppressed():
    """A reader's own queries (a user loader's SELECT) are not the request's dependencies."""
    from opentelemetry import context
    from opentelemetry.instrumentation.utils import is_instrumentation_enabled

    seen = []
    assert UserResolver(lambda request: seen.append(is_instrumentation_enabled()) or "u")(None) == "u"
    assert seen == [False]
    assert is_instrumentation_enabled() and context.get_current() is not None
