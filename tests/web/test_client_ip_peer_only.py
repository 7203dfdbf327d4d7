"""A request without proxy headers (most of them) takes client_ip's short path, cached per peer:
its answer is the full rule's answer for every peer, trusted_proxies and peer_rewritten."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ai_core.web.client_ip import _address, _resolve, _trust, client_ip

peers = st.one_of(
    st.none(),
    st.sampled_from(["203.0.113.7", "203.0.113.7:51000", "[2001:DB8::1]:443", "2001:db8::1", "fe80::1%eth0",
                     "::ffff:10.0.0.1", "unix:/run/app.sock", "", " 10.0.0.1 ", "[::1]", "10.0.0.1:x"]),
    st.text(max_size=30),
)
trusts = st.one_of(st.integers(-1, 3), st.just(["10.0.0.0/8", "fd00::/8"]), st.just("2001:db8::/32"), st.booleans())


@settings(max_examples=300, deadline=None)
@given(peer=peers, empty=st.sampled_from([None, "", b"", [], ()]), trusted=trusts, rewritten=st.booleans())
def test_no_proxy_headers_give_the_full_rules_answer(peer, empty, trusted, rewritten):
    full = _resolve(_address(peer), [], _trust(trusted), rewritten)
    assert client_ip(peer, empty, empty, trusted, rewritten) == (None if full is None else str(full))
