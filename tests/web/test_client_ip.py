"""The client IP rule (README, "The request layer": ``client_ip``): the socket peer unless
``trusted_proxies`` says otherwise, and then only what our own proxies wrote at the right end
of ``X-Forwarded-For`` / ``Forwarded``, so a client cannot choose its own address."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ai_core.web.client_ip import MAX_HEADER_CHARS, client_ip

PROXY = "10.0.0.1"  # the socket peer: our nearest proxy
NETS = ["10.0.0.0/8", "fd00::/8"]
SPOOF = "6.6.6.6"  # what a client writes about itself


def case(id, expected, peer=PROXY, xff=None, fwd=None, trusted=0, rewritten=False):
    return pytest.param(dict(peer=peer, forwarded_for=xff, forwarded=fwd, trusted_proxies=trusted, peer_rewritten=rewritten), expected, id=id)


CASES = [
    # 0: the socket peer, as the server gives it
    case("zero-peer-port-removed", "203.0.113.7", peer="203.0.113.7:51000"),
    case("zero-ignores-forwarded-for", PROXY, xff=SPOOF),
    case("zero-ignores-forwarded", PROXY, fwd=f"for={SPOOF}"),
    case("zero-bracketed-ipv6-peer-with-port", "2001:db8::1", peer="[2001:db8::1]:443"),
    case("zero-bare-ipv6-peer-lower-cased", "2001:db8::1", peer="2001:DB8::1"),
    case("zero-ipv4-mapped-peer-given-as-ipv4", "1.2.3.4", peer="::ffff:1.2.3.4"),
    case("zero-ipv6-zone-id-stripped", "fe80::1", peer="fe80::1%eth0"),
    case("zero-no-peer-is-none", None, peer=None),
    case("zero-garbage-peer-is-none", None, peer="unix:/run/app.sock"),
    case("zero-empty-peer-is-none", None, peer=""),
    case("zero-ipv4-with-bad-port-is-none", None, peer="1.2.3.4:http"),
    # N: header entry [-N], never left of it
    case("one-proxy-spoofed-entry-does-not-win", "203.0.113.7", xff=f"{SPOOF}, 203.0.113.7", trusted=1),
    case("two-proxies-take-entry-minus-two", "203.0.113.7", xff=f"{SPOOF}, 203.0.113.7, 10.0.0.2", trusted=2),
    case("fewer-entries-than-hops-leftmost", "203.0.113.7", xff="203.0.113.7, 10.0.0.2", trusted=3),
    case("fewer-entries-than-hops-leftmost-valid", "203.0.113.7", xff="unknown, 203.0.113.7, 10.0.0.2", trusted=5),
    case("garbage-at-minus-n-takes-nearest-right", "10.0.0.2", xff=f"{SPOOF}, garbage, 10.0.0.2", trusted=2),
    case("unknown-at-minus-n-and-right-falls-to-peer", PROXY, xff=f"{SPOOF}, unknown", trusted=1),
    # RFC 7230 section 7: empty list elements (", ,", a trailing ",") are ignored, not hops
    case("empty-elements-ignored-issue-example", "198.51.100.23", xff=f"{SPOOF},, 198.51.100.23,", trusted=1),
    case("empty-element-is-not-a-hop", "203.0.113.7", xff="203.0.113.7, , 10.0.0.2", trusted=2),
    case("blank-elements-ignored", "203.0.113.7", xff=f"{SPOOF}, 203.0.113.7,  , \t,", trusted=1),
    case("empty-elements-in-lines-ignored", "203.0.113.7", xff=[f"{SPOOF},", "203.0.113.7,", ""], trusted=1),
    case("only-empty-elements-is-peer", PROXY, xff=" , ,", trusted=1),
    case("only-empty-xff-counts-as-absent", "198.51.100.9", xff=",", fwd="for=198.51.100.9", trusted=1),
    case("obfuscated-at-minus-one-falls-to-peer", PROXY, xff=f"{SPOOF}, _hidden", trusted=1),
    case("hops-without-header-is-peer", PROXY, trusted=2),
    case("hops-without-peer-still-reads-header", "203.0.113.7", peer=None, xff="203.0.113.7", trusted=1),
    case("hops-all-invalid-and-no-peer-is-none", None, peer=None, xff="unknown", trusted=1),
    case("xff-entry-port-removed", "203.0.113.7", xff="203.0.113.7:51000", trusted=1),
    case("xff-bracketed-ipv6-with-port", "2001:db8::7", xff=f"{SPOOF}, [2001:db8::7]:443", trusted=1),
    case("xff-upper-case-ipv6", "2001:db8::7", xff="2001:DB8::7", trusted=1),
    case("xff-spaces-around-entries", "203.0.113.7", xff=f"  {SPOOF} ,   203.0.113.7   ", trusted=1),
    case("xff-ipv4-mapped-entry-as-ipv4", "203.0.113.7", xff="::ffff:203.0.113.7", trusted=1),
    case("xff-lines-joined-in-order", "203.0.113.7", xff=[SPOOF, "203.0.113.7, 10.0.0.2"], trusted=2),
    case("xff-wins-over-forwarded", "203.0.113.7", xff="203.0.113.7", fwd="for=198.51.100.9", trusted=1),
    case("blank-xff-counts-as-absent", "198.51.100.9", xff="  ", fwd="for=198.51.100.9", trusted=1),
    case("long-xff-keeps-right-end", "203.0.113.7", xff=f"{SPOOF}, " * 5000 + "203.0.113.7, 10.0.0.2", trusted=2),
    # Forwarded (RFC 7239), read only without X-Forwarded-For
    case("forwarded-spoofed-element-does-not-win", "198.51.100.9", fwd=f"for={SPOOF}, for=198.51.100.9", trusted=1),
    case("forwarded-quoted-ipv6-with-port", "2001:db8:cafe::17", fwd='for="[2001:db8:cafe::17]:4711"', trusted=1),
    case("forwarded-keys-case-insensitive", "198.51.100.9", fwd="For=198.51.100.9;Proto=https", trusted=1),
    case("forwarded-for-among-other-pairs", "198.51.100.9", fwd="proto=https;for=198.51.100.9;by=10.0.0.1", trusted=1),
    case("forwarded-unknown-at-minus-n-takes-nearest-right", "10.0.0.2", fwd=f"for={SPOOF}, for=unknown, for=10.0.0.2", trusted=2),
    case("forwarded-obfuscated-falls-to-peer", PROXY, fwd=f"for={SPOOF}, for=_hidden", trusted=1),
    case("forwarded-obfuscated-port-accepted", "198.51.100.9", fwd='for="198.51.100.9:_p1"', trusted=1),
    case("forwarded-element-without-for-is-unknown-hop", PROXY, fwd=f"for={SPOOF}, proto=https", trusted=1),
    case("forwarded-element-with-two-for-is-unknown-hop", PROXY, fwd="for=198.51.100.9;for=198.51.100.8", trusted=1),
    case("forwarded-lines-joined-in-order", "198.51.100.9", fwd=[f"for={SPOOF}", "for=198.51.100.9"], trusted=1),
    case("forwarded-empty-elements-ignored", "198.51.100.23", fwd=f"for={SPOOF},, for=198.51.100.23,", trusted=1),
    case("forwarded-empty-element-is-not-a-hop", "198.51.100.9", fwd="for=198.51.100.9, , for=10.0.0.2", trusted=2),
    case("forwarded-open-quote-cannot-swallow-proxy-entry", "198.51.100.9", fwd='for="6.6.6.6, for=198.51.100.9', trusted=1),
    # networks: the peer must be trusted, then walk from the right past trusted hops
    case("untrusted-peer-ignores-headers", "203.0.113.50", peer="203.0.113.50", xff=SPOOF, trusted=NETS),
    case("walk-skips-trusted-hops", "203.0.113.7", xff=f"{SPOOF}, 203.0.113.7, 10.0.0.3", trusted=NETS),
    case("walk-all-trusted-gives-leftmost", "10.0.0.5", xff="10.0.0.5, 10.0.0.3", trusted=NETS),
    case("walk-stops-at-garbage-with-last-trusted", "10.0.0.3", xff=f"{SPOOF}, garbage, 10.0.0.3", trusted=NETS),
    case("walk-garbage-first-gives-peer", PROXY, xff=f"{SPOOF}, unknown", trusted=NETS),
    case("walk-passes-empty-elements", "203.0.113.7", xff=f"{SPOOF}, 203.0.113.7, , 10.0.0.3,", trusted=NETS),
    case("walk-empty-elements-issue-example", "198.51.100.23", xff=f"{SPOOF},, 198.51.100.23,", trusted=NETS),
    case("walk-forwarded-empty-elements", "198.51.100.23", fwd=f"for={SPOOF},, for=198.51.100.23,", trusted=NETS),
    case("networks-without-header-is-peer", PROXY, trusted=NETS),
    case("networks-given-as-objects", "203.0.113.7", xff="203.0.113.7", trusted=tuple(ipaddress.ip_network(n) for n in NETS)),
    case("networks-single-cidr-string", "203.0.113.7", xff="203.0.113.7", trusted="10.0.0.0/8"),
    case("networks-bad-cidr-skipped", "203.0.113.7", xff="203.0.113.7", trusted=["not-a-net", "10.0.0.0/8"]),
    case("networks-empty-trusts-nothing", PROXY, xff=SPOOF, trusted=[]),
    case("networks-ipv6-peer-and-client", "2001:db8::9", peer="[fd00::1]:80", xff="2001:db8::9, fd00::2", trusted=NETS),
    case("networks-ipv4-mapped-peer-is-trusted", "203.0.113.7", peer="::ffff:10.0.0.1", xff="203.0.113.7", trusted=NETS),
    case("networks-missing-peer-is-not-trusted", None, peer=None, xff=SPOOF, trusted=NETS),
    case("networks-forwarded-obfuscated-stops-walk", "10.0.0.3", fwd="for=203.0.113.7, for=_hidden, for=10.0.0.3", trusted=NETS),
    case("networks-walk-reads-only-last-64-hops", "10.0.0.3", xff="203.0.113.7, " + "10.0.0.3, " * 70 + "10.0.0.3", trusted=NETS),
    # the server already rewrote the peer from the header
    case("rewritten-hops-take-minus-n", "198.51.100.1", peer="198.51.100.1", xff=f"{SPOOF}, 198.51.100.1", trusted=1, rewritten=True),
    case("rewritten-hops-garbage-falls-to-peer", "198.51.100.1", peer="198.51.100.1", xff="unknown", trusted=1, rewritten=True),
    case("rewritten-networks-no-peer-gate", "198.51.100.1", peer="203.0.113.99", xff="198.51.100.1, 10.0.0.3", trusted=NETS, rewritten=True),
    case("not-rewritten-same-input-peer-gate", "203.0.113.99", peer="203.0.113.99", xff="198.51.100.1, 10.0.0.3", trusted=NETS),
    case("rewritten-networks-without-header-is-peer", "198.51.100.1", peer="198.51.100.1", trusted=NETS, rewritten=True),
    case("rewritten-zero-is-peer", "198.51.100.1", peer="198.51.100.1", xff=SPOOF, rewritten=True),
    # odd option values from direct callers: trust nothing rather than guess
    case("negative-count-trusts-nothing", PROXY, xff=SPOOF, trusted=-1),
    case("bool-is-not-a-count", PROXY, xff=SPOOF, trusted=True),
]


@pytest.mark.parametrize("arguments, expected", CASES)
def test_client_ip_rules(arguments, expected):
    assert client_ip(**arguments) == expected


def test_an_entry_cut_by_the_length_limit_is_never_read_as_an_address():
    # 41 entries over 8 KiB: "201.2.3.4" loses its first two characters to the cut, and with
    # 64 trusted hops its remains would be the leftmost address; "1.2.3.4" must not appear.
    unknowns = ",unknown" * 40
    padding = " " * (MAX_HEADER_CHARS - len("1.2.3.4") - len(unknowns))
    header = "201.2.3.4," + padding + unknowns[1:]
    assert len(header) - MAX_HEADER_CHARS == 2
    assert client_ip(PROXY, header, trusted_proxies=64) == PROXY


# --- properties ------------------------------------------------------------------------------

TRUSTED_NETS = tuple(ipaddress.ip_network(n) for n in NETS)
QUICK = settings(max_examples=200, deadline=None)


def _plain(address):
    mapped = getattr(address, "ipv4_mapped", None)
    return address if mapped is None else mapped


def _trusted(address):
    return any(_plain(address) in net for net in TRUSTED_NETS)


inside = st.one_of(st.ip_addresses(network=NETS[0]), st.ip_addresses(network=NETS[1]))
outside = st.ip_addresses().filter(lambda a: not _trusted(a))
non_address = st.sampled_from(["unknown", "_hidden", "_a.b-c", "garbage", "1.2.3", "::g"])


def _xff_entry(address):
    """Ways proxies write an address in X-Forwarded-For."""
    text = str(address)
    forms = [st.just(text), st.just(text.upper()), st.just(f" {text} ")]
    forms.append(st.just(f"[{text}]:443") if address.version == 6 else st.just(f"{text}:8080"))
    return st.one_of(forms)


def _fwd_element(address):
    """Ways proxies write an address in a Forwarded element."""
    text = str(address)
    node = f'"[{text}]:4711"' if address.version == 6 else text
    return st.sampled_from([f"for={node}", f"For={node};proto=https", f"proto=http;for={node};by=_proxy"])


def _fwd_unknown(token):
    return st.sampled_from([f"for={token}", f'for="{token}"', "proto=https"])


# What the client sends before our proxies append: anything, including tricks aimed at parsers.
client_text = st.one_of(
    st.text(max_size=40),
    st.ip_addresses().map(str),
    st.sampled_from(['"', 'for="', "for=1.2.3.4", ";", "[", "]", "[::1", ",", "unknown", "for=_x", "\\"]),
)
client_prefix = st.lists(client_text, max_size=8)


def _proxies_entries(xff):
    """Entries written by N trusted proxies (int mode): any address, or a non-address."""
    address_entry = st.ip_addresses().flatmap(_xff_entry if xff else _fwd_element)
    unknown_entry = non_address if xff else non_address.flatmap(_fwd_unknown)
    return st.lists(st.one_of(address_entry, unknown_entry), min_size=1, max_size=5)


def _network_proxies_entries(xff):
    """Entries written by proxies inside the trusted networks: the first proxy names the client
    (an outside address or a non-address), the others name trusted proxies."""
    to_entry = _xff_entry if xff else _fwd_element
    unknown_entry = non_address if xff else non_address.flatmap(_fwd_unknown)
    first = st.one_of(outside.flatmap(to_entry), unknown_entry)
    rest = st.lists(inside.flatmap(to_entry), max_size=4)
    return st.tuples(first, rest).map(lambda parts: [parts[0], *parts[1]])


def _with_prefix(prefix, entries, as_lines):
    if as_lines:
        return [*prefix, ", ".join(entries)]
    return ", ".join([*prefix, *entries])


def _call(peer, entries, xff, trusted, rewritten, other_header):
    if xff:
        return client_ip(peer, entries, other_header, trusted, rewritten)
    return client_ip(peer, None, entries, trusted, rewritten)


peers = st.one_of(inside.map(str), outside.map(str), st.sampled_from([None, "", "garbage"]))


@pytest.mark.parametrize("xff", [True, False], ids=["x-forwarded-for", "forwarded"])
@QUICK
@given(data=st.data(), prefix=client_prefix, as_lines=st.booleans(), peer=peers, rewritten=st.booleans())
def test_client_written_prefix_never_changes_result_with_hop_count(xff, data, prefix, as_lines, peer, rewritten):
    entries = data.draw(_proxies_entries(xff))
    trusted = len(entries)
    other = data.draw(st.text(max_size=30))  # a client may also send the header we do not read
    alone = _call(peer, [", ".join(entries)], xff, trusted, rewritten, other)
    spoofed = _call(peer, _with_prefix(prefix, entries, as_lines), xff, trusted, rewritten, other)
    assert spoofed == alone


@pytest.mark.parametrize("xff", [True, False], ids=["x-forwarded-for", "forwarded"])
@QUICK
@given(data=st.data(), prefix=client_prefix, as_lines=st.booleans(), peer=peers, rewritten=st.booleans())
def test_client_written_prefix_never_changes_result_with_networks(xff, data, prefix, as_lines, peer, rewritten):
    entries = data.draw(_network_proxies_entries(xff))
    trusted = data.draw(st.sampled_from([NETS, TRUSTED_NETS]))
    other = data.draw(st.text(max_size=30))
    alone = _call(peer, [", ".join(entries)], xff, trusted, rewritten, other)
    spoofed = _call(peer, _with_prefix(prefix, entries, as_lines), xff, trusted, rewritten, other)
    assert spoofed == alone


anything = st.one_of(
    st.none(),
    st.text(),
    st.binary(max_size=20),
    st.integers(),
    st.booleans(),
    st.lists(st.one_of(st.text(), st.binary(max_size=20), st.integers(), st.none()), max_size=5),
)


@QUICK
@given(peer=anything, xff=anything, fwd=anything, trusted=anything, rewritten=anything)
def test_no_input_raises_and_any_answer_is_a_normalised_address(peer, xff, fwd, trusted, rewritten):
    found = client_ip(peer, xff, fwd, trusted, rewritten)
    assert found is None or found == str(ipaddress.ip_address(found))
