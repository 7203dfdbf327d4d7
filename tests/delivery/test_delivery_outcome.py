"""What each answer of the endpoint means for each item (pure rules of ai_core.delivery.outcome)."""

import pytest

from ai_core.delivery.outcome import judge, parse_retry_after, trim_envelope


def batch(n):
    return [{"name": "Microsoft.ApplicationInsights.Message", "data": {"baseData": {"message": "m%d" % i}}} for i in range(n)]


def test_200_without_errors_delivers_everything():
    v = judge(200, [], batch(3))
    assert v.delivered == 3 and v.retry == [] and v.dropped == {}


@pytest.mark.parametrize("status", [0, 401, 403, 408, 429, 439, 500, 502, 503, 504])
def test_retriable_statuses_and_network_errors_retry_the_whole_batch(status):
    items = batch(4)
    v = judge(status, [], items)
    assert v.retry == items and v.delivered == 0 and v.dropped == {}


def test_439_is_retried_not_dropped_like_the_official_exporter_does():
    assert judge(439, [], batch(2)).retry


@pytest.mark.parametrize("status", [400, 404])
def test_non_retriable_statuses_drop_with_a_reason(status):
    v = judge(status, [], batch(2))
    assert v.retry == [] and sum(v.dropped.values()) == 2
    assert str(status) in next(iter(v.dropped))


def test_206_retries_only_items_with_retriable_codes():
    items = batch(4)
    errors = [
        {"index": 1, "statusCode": 500, "message": "busy"},
        {"index": 2, "statusCode": 400, "message": "bad field"},
        {"index": 3, "statusCode": 429, "message": "throttled"},
    ]
    v = judge(206, errors, items)
    assert v.retry == [items[1], items[3]]
    assert v.delivered == 1
    assert v.dropped == {"rejected by the endpoint (item status 400)": 1}


def test_errors_in_a_200_answer_are_handled_as_partial_success():
    items = batch(2)
    v = judge(200, [{"index": 0, "statusCode": 503, "message": ""}], items)
    assert v.retry == [items[0]] and v.delivered == 1


def test_a_whole_batch_too_large_is_split_in_halves():
    items = batch(5)
    v = judge(413, [], items)
    assert v.split == [items[:2], items[2:]]


def test_a_whole_batch_too_large_is_split_even_when_the_answer_lists_every_item():
    # The emulator (and a gateway) answer 413 with one error per item: none may be dropped.
    items = batch(5)
    errors = [{"index": i, "statusCode": 413, "message": "Request entity too large"} for i in range(5)]
    v = judge(413, errors, items)
    assert v.split == [items[:2], items[2:]]
    assert v.dropped == {} and v.retry == []


def test_a_single_item_refused_with_413_is_trimmed_then_sent_again():
    big = {"name": "x", "data": {"baseData": {"message": "y" * 20000}}}
    v = judge(413, [], [big])
    assert [len(part[0]["data"]["baseData"]["message"]) for part in v.split] == [8192]
    again = judge(413, [], v.split[0])  # nothing more to cut: dropped, with the reason
    assert again.split == [] and again.dropped == {"too large for the endpoint": 1}


def test_an_item_rejected_for_size_is_trimmed_and_retried_once():
    big = {"name": "x", "data": {"baseData": {"message": "y" * 20000, "properties": {"k": "v" * 5000}}}}
    v = judge(206, [{"index": 0, "statusCode": 400, "message": "Item too large"}], [big])
    assert len(v.retry) == 1
    trimmed = v.retry[0]
    assert len(trimmed["data"]["baseData"]["message"]) == 8192
    assert len(trimmed["data"]["baseData"]["properties"]["k"]) == 1024
    assert big["data"]["baseData"]["message"] == "y" * 20000  # the original is untouched
    # A second size rejection of the trimmed item drops it: nothing more can be cut.
    again = judge(206, [{"index": 0, "statusCode": 400, "message": "Item too large"}], [trimmed])
    assert again.retry == [] and sum(again.dropped.values()) == 1


def test_trim_returns_none_when_nothing_is_long():
    assert trim_envelope(batch(1)[0]) is None


def test_retry_after_accepts_seconds_and_http_dates():
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_a_malformed_item_status_in_the_answer_does_not_break_delivery():
    # Sender.send promises never to raise: an odd answer must not fail the whole export.
    items = batch(3)
    errors = [{"index": 0, "statusCode": "busy", "message": "?"}, {"index": 1, "statusCode": [500]}]
    v = judge(206, errors, items)
    assert v.delivered == 1 and v.retry == []
    assert v.dropped == {"rejected by the endpoint (item status 0)": 2}


def test_a_field_named_size_is_not_mistaken_for_a_size_rejection():
    item = {"name": "x", "data": {"baseData": {"message": "m" * 20000, "properties": {"size": "L"}}}}
    v = judge(206, [{"index": 0, "statusCode": 400, "message": "data.baseData.properties.size: bad value"}], [item])
    assert v.retry == []
    assert v.dropped == {"rejected by the endpoint (item status 400)": 1}
