"""Request durations are recorded off the request thread (ai_core.queued_durations): the request
only queues, the next collection records, and what is sent is what a direct record sends."""

import threading

import pytest

from opentelemetry.sdk.metrics import AlwaysOffExemplarFilter, MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from ai_core.autocollected_metrics import AutocollectedMeterProvider, standard_metric_views
from ai_core.envelopes.metrics import APPLICATION_INSIGHTS_TEMPORALITY
from ai_core.queued_durations import GAUGE_NAME, QueuedHistogram, duration_queue

REQUESTS = [  # (ms, attributes as the contrib middlewares record them)
    (12, {"http.method": "GET", "http.route": "/a", "http.scheme": "http", "http.status_code": 200,
          "net.host.port": 8000, "http.target": "/a?x=1"}),
    (30, {"http.method": "POST", "http.route": "/b", "http.status_code": 200}),
    (7, {"http.method": "GET", "http.status_code": 500, "user_agent.synthetic.type": "bot"}),
    (3, {"http.method": "GET", "http.status_code": 404}),
    (1, None),
]


def _provider(exemplars_off: bool = True):
    reader = InMemoryMetricReader(preferred_temporality=APPLICATION_INSIGHTS_TEMPORALITY)  # deltas, as sent
    kwargs = {"exemplar_filter": AlwaysOffExemplarFilter()} if exemplars_off else {}
    provider = MeterProvider(metric_readers=[reader], views=standard_metric_views(), **kwargs)
    return provider, reader


def _points(reader, min_max=False):
    """{metric name: sorted (attributes, count, sum, [min, max,] bucket counts)} of one collection."""
    data = reader.get_metrics_data()
    out = {}
    for rm in data.resource_metrics if data else ():
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                out[metric.name] = sorted(
                    (sorted(dict(p.attributes).items()), p.count, p.sum) + ((p.min, p.max) if min_max else ())
                    + (tuple(p.bucket_counts),)
                    for p in metric.data.data_points)
    return out


def test_a_request_only_queues_and_the_next_collection_records_the_stock_numbers():
    queued_provider, queued_reader = _provider()
    meter = AutocollectedMeterProvider(queued_provider).get_meter("opentelemetry.instrumentation.wsgi")
    duration = meter.create_histogram("http.server.duration", unit="ms", description="d")
    direct_provider, direct_reader = _provider()
    direct = direct_provider.get_meter("opentelemetry.instrumentation.wsgi").create_histogram(
        "http.server.duration", unit="ms", description="d")
    assert isinstance(duration, QueuedHistogram) and duration.name == "http.server.duration"

    def serve():  # a request thread
        for ms, attributes in REQUESTS:
            duration.record(ms, attributes)

    worker = threading.Thread(target=serve)
    worker.start()
    worker.join()
    for ms, attributes in REQUESTS:
        direct.record(ms, attributes)

    queue = duration_queue(queued_provider, None)
    assert len(queue) == len(REQUESTS)  # nothing recorded on the request thread
    queued = _points(queued_reader)
    assert len(queue) == 0
    assert queued == _points(direct_reader)  # same attributes, counts, sums and buckets
    assert sorted(attrs for attrs, *_ in queued["http.server.duration"]) == [
        [], [("http.status_code", 200)], [("http.status_code", 404)],
        [("http.status_code", 500), ("user_agent.synthetic.type", "bot")]]
    assert GAUGE_NAME not in queued  # the drain observes nothing

    duration.record(5, {"http.status_code": 200})  # the next collection has only what came since
    assert [(c, s) for _, c, s, _ in _points(queued_reader)["http.server.duration"]] == [(1, 5)]


def test_instrumentations_of_one_provider_share_one_queue():
    provider, reader = _provider()
    meters = AutocollectedMeterProvider(provider)
    wsgi = meters.get_meter("opentelemetry.instrumentation.wsgi").create_histogram("http.server.duration", unit="ms")
    asgi = meters.get_meter("opentelemetry.instrumentation.asgi").create_histogram(
        "http.server.request.duration", unit="s")
    wsgi.record(10, {"http.status_code": 200})
    asgi.record(0.5, {"http.response.status_code": 201, "http.route": "/x"})

    points = _points(reader)
    assert points["http.server.duration"] == [([("http.status_code", 200)], 1, 10, points["http.server.duration"][0][3])]
    assert [(a, c, s) for a, c, s, _ in points["http.server.request.duration"]] == [
        ([("http.response.status_code", 201)], 1, 0.5)]


def test_a_full_queue_records_directly():
    provider, reader = _provider()
    duration = AutocollectedMeterProvider(provider).get_meter("m").create_histogram("http.server.duration", unit="ms")
    queue = duration_queue(provider, None)
    queue.MAX_QUEUED = 2
    for ms in (1, 2, 3, 4):
        duration.record(ms, {"http.status_code": 200})
    assert len(queue) == 2
    assert [(c, s) for _, c, s, _ in _points(reader)["http.server.duration"]] == [(4, 10)]


def test_with_exemplars_the_durations_are_recorded_directly():
    provider, reader = _provider(exemplars_off=False)  # the SDK's default: trace-based exemplars
    duration = AutocollectedMeterProvider(provider).get_meter("m").create_histogram("http.server.duration", unit="ms")
    assert not isinstance(duration, QueuedHistogram)
    duration.record(4, {"http.status_code": 200})
    assert [(c, s) for _, c, s, _ in _points(reader)["http.server.duration"]] == [(1, 4)]


CALLS = [  # (ms, attributes as the HTTP client instrumentations record them)
    (20, {"http.method": "GET", "http.scheme": "http", "net.peer.name": "api.example", "net.peer.port": 80,
          "http.status_code": 200}),
    (25, {"http.method": "GET", "http.scheme": "http", "net.peer.name": "api.example", "net.peer.port": 80,
          "http.status_code": 200}),
    (30, {"http.method": "GET", "http.scheme": "http", "net.peer.name": "api.example", "net.peer.port": 80,
          "http.status_code": 404}),
    (40, {"http.method": "POST", "net.peer.name": "api.example", "net.peer.port": 80, "http.status_code": 503}),
    (5, {"http.method": "GET", "error.type": "ConnectionError", "net.peer.name": "down.example"}),
    (9, {"http.method": "GET", "tags": ["a", "b"]}),  # a sequence value: not shareable, still recorded
    (3, None),
]


def test_http_client_durations_are_queued_with_all_their_attributes():
    queued_provider, queued_reader = _provider()
    duration = AutocollectedMeterProvider(queued_provider).get_meter("opentelemetry.instrumentation.urllib") \
        .create_histogram("http.client.duration", unit="ms")
    direct_provider, direct_reader = _provider()
    direct = direct_provider.get_meter("opentelemetry.instrumentation.urllib").create_histogram(
        "http.client.duration", unit="ms")
    assert isinstance(duration, QueuedHistogram)
    for ms, attributes in CALLS:
        duration.record(ms, attributes)
        direct.record(ms, attributes)

    assert len(duration_queue(queued_provider, None)) == len(CALLS)
    queued = _points(queued_reader)
    assert queued == _points(direct_reader)
    assert len(queued["http.client.duration"]) == 6


def test_other_histograms_are_not_queued():
    provider, _ = _provider()
    meter = AutocollectedMeterProvider(provider).get_meter("m")
    assert not isinstance(meter.create_histogram("app.latency", unit="ms"), QueuedHistogram)


def _two_reader_provider():
    """Two readers, as with OTLP export on: deltas (as sent) and cumulative (OTLP's default)."""
    delta = InMemoryMetricReader(preferred_temporality=APPLICATION_INSIGHTS_TEMPORALITY)
    cumulative = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[delta, cumulative], views=standard_metric_views(),
                             exemplar_filter=AlwaysOffExemplarFilter())
    return provider, (delta, cumulative)


@pytest.mark.parametrize("sdk_key", [True, False], ids=["by the SDK's key", "by comparing attributes"])
def test_many_requests_of_one_status_are_recorded_in_bulk_with_the_stock_numbers(sdk_key, monkeypatch):
    import random

    from ai_core import queued_durations

    if not sdk_key:  # an SDK without the key function: the aggregations are found by their attributes
        monkeypatch.setattr(queued_durations, "_hash_attributes", None)

    rng = random.Random(7)
    queued_provider, queued_readers = _two_reader_provider()
    direct_provider, direct_readers = _two_reader_provider()
    queued = AutocollectedMeterProvider(queued_provider).get_meter("w").create_histogram("http.server.duration", unit="ms")
    direct = direct_provider.get_meter("w").create_histogram("http.server.duration", unit="ms")
    statuses = [{"http.method": m, "http.status_code": c, "http.route": "/r%d" % rng.randrange(5)}
                for m in ("GET", "POST") for c in (200, 404, 500)]
    for collection in range(3):
        for _ in range(2000):
            ms, attributes = rng.expovariate(1 / 40.0), rng.choice(statuses)
            queued.record(ms, attributes)
            direct.record(ms, attributes)
        for queued_reader, direct_reader in zip(queued_readers, direct_readers):
            got, want = _points(queued_reader, min_max=True), _points(direct_reader, min_max=True)
            assert got == want, "collection %d differs" % collection
            assert sum(p[1] for p in got["http.server.duration"]) == 2000 * (collection + 1 if queued_reader is queued_readers[1] else 1)
            assert len(got["http.server.duration"]) == 3  # one per status code
    assert duration_queue(queued_provider, None).recorded_one_by_one == 0  # the bulk path was taken


def test_values_record_would_refuse_go_through_record():
    provider, reader = _provider()
    duration = AutocollectedMeterProvider(provider).get_meter("m").create_histogram("http.server.duration", unit="ms")
    for ms in (5, -1, 7, float("nan"), 9):
        duration.record(ms, {"http.status_code": 200})
    assert [(c, s) for _, c, s, _ in _points(reader)["http.server.duration"]] == [(3, 21)]  # as record() keeps
    assert duration_queue(provider, None).recorded_one_by_one == 4
