"""The one test item the doctor sends, and what the endpoint's answer means, in plain words."""

from __future__ import annotations

import platform
import time
import uuid
from typing import Any, Dict, List

from ai_core.delivery.outcome import RETRIABLE
from ai_core.doctor.report import FAIL, OK, WARN, Checklist
from ai_core.options import Options

TEST_MESSAGE = "appinsights-otel doctor: test item"
TEST_ROLE = "ai_core-doctor"


def build_test_envelope(options: Options) -> Dict[str, Any]:
    """A MessageData envelope with the device tags every envelope has, from role ``TEST_ROLE``."""
    from ai_core.envelopes.common import new_envelope, resource_tags

    cs = options.connection_string
    assert cs is not None
    tags = resource_tags(None)  # device tags and ai.internal.sdkVersion, as every envelope has
    instance = options.role_instance or platform.node()
    tags.update({
        "ai.cloud.role": TEST_ROLE,
        "ai.cloud.roleInstance": instance,
        "ai.internal.nodeName": instance,
        "ai.operation.id": uuid.uuid4().hex,
    })
    data = {
        "ver": 2,
        "message": TEST_MESSAGE,
        "severityLevel": 1,
        "properties": {"sent by": "python -m ai_core doctor", "host": platform.node()},
    }
    return new_envelope("Message", cs.instrumentation_key, tags, time.time_ns(), "MessageData", data)


def send_test_item(options: Options, report: Checklist, timeout: float) -> None:
    """Post the test item with the app's own transport (proxy, Entra ID token, redirects)."""
    from ai_core.delivery.encode import encode_batch
    from ai_core.delivery.transport import Transport

    cs = options.connection_string
    if cs is None:
        report.line("test item not sent: there is no usable connection string")
        return
    token_provider = None
    if options.credential is not None:
        from ai_core.delivery.auth import BearerTokenProvider

        token_provider = BearerTokenProvider(options.credential, cs.aad_audience)
    transport = Transport(cs.track_url, connect_timeout=timeout, read_timeout=timeout,
                          token_provider=token_provider)
    via = " through proxy %s" % transport.proxy if transport.proxy else ""
    report.line("sending one test item to %s%s ..." % (cs.track_url, via))
    try:
        response = transport.post(encode_batch([build_test_envelope(options)]))
        final_url = transport.track_url
    finally:
        transport.close()
    describe_response(response, cs.track_url, final_url, options, report)


def _messages(errors: List[Dict[str, Any]]) -> str:
    seen: List[str] = []
    for error in errors:
        message = str(error.get("message") or "").strip()
        if message and message not in seen:
            seen.append(message)
    text = "; ".join(seen)
    return text if len(text) <= 500 else text[:497] + "..."


def describe_response(response: Any, url: str, final_url: str, options: Options, report: Checklist) -> None:
    """The endpoint's answer as a check, with a hint for each failure users meet."""
    status = response.status
    messages = _messages(response.errors)
    retry = " (Retry-After: %s)" % response.retry_after if response.retry_after else ""
    with_credential = options.credential is not None
    if status == 0 and (response.error or "").startswith(("refusing to send", "no Entra ID token")):
        report.check(FAIL, "test item not sent", response.error)  # never reached the network
        return
    if status == 0:
        report.check(FAIL, "could not reach %s" % final_url, response.error or "no answer")
        report.note("check the IngestionEndpoint in the connection string, DNS, firewalls and "
                    "HTTPS_PROXY/NO_PROXY; the app keeps such items in offline storage and retries")
        return
    if final_url != url and status not in (307, 308):
        report.check(WARN, "redirected", "the endpoint moved to %s: update IngestionEndpoint in the "
                     "connection string" % final_url.rsplit("/v2", 1)[0])
    if status in (200, 206) and not response.errors and response.items_accepted >= 1:
        report.check(OK, "endpoint answered %d" % status, "%d item accepted" % response.items_accepted)
        return
    answered = "endpoint answered %d" % status
    if status in (200, 206):
        report.check(FAIL, answered, "%d of %d item accepted%s" % (
            response.items_accepted, response.items_received or 1, ": " + messages if messages else ""))
    elif status in (307, 308):
        report.check(FAIL, answered, "redirect not followed: %s" % (response.error or response.location or "no Location"))
    elif status == 400:
        report.check(FAIL, answered, messages or "the endpoint rejected the test item")
        report.note("if it names the instrumentation key: the key is not known to this endpoint; "
                    "copy the connection string again from the resource's Overview page")
    elif status == 401:
        report.check(FAIL, answered, messages or "not authorized")
        if with_credential:
            report.note("the Entra ID token was refused: check the credential's tenant and the "
                        "AADAudience of the connection string")
        else:
            report.note("the resource accepts Entra ID (AAD) authentication only (local "
                        "authentication disabled): set the credential option to an azure-identity "
                        "credential, e.g. DefaultAzureCredential()")
    elif status == 403:
        report.check(FAIL, answered, messages or "forbidden")
        if with_credential:
            report.note("the identity is not allowed to publish: give it the 'Monitoring Metrics "
                        "Publisher' role on the Application Insights resource")
        else:
            report.note("the resource refuses instrumentation-key access (Entra ID only?) or the "
                        "endpoint belongs to another region/resource: check the connection string, "
                        "or set the credential option")
    elif status == 404:
        report.check(FAIL, answered, messages or "not found")
        report.note("IngestionEndpoint should be the endpoint's root, e.g. "
                    "https://<region>.in.applicationinsights.azure.com/ (the app adds /v2.1/track)")
    elif status == 429:
        report.check(FAIL, answered, "throttled: too many requests%s%s" % (retry, ": " + messages if messages else ""))
        report.note("the app backs off and keeps items in offline storage; lasting throttling "
                    "means more telemetry than the resource accepts (consider sampling_ratio)")
    elif status == 439:
        report.check(FAIL, answered, "daily quota exceeded%s%s" % (retry, ": " + messages if messages else ""))
        report.note("the resource's daily cap is reached; data is refused until it resets: raise it "
                    "under 'Usage and estimated costs' > 'Daily cap'")
    elif status in RETRIABLE:  # 408 and 5xx: the other retriable codes are answered above
        report.check(FAIL, answered, "the endpoint is having trouble%s%s" % (retry, ": " + messages if messages else ""))
        report.note("a transient error: the app retries and keeps items in offline storage; run "
                    "the doctor again in a while")
    elif status == 413:
        report.check(FAIL, answered, messages or "payload too large")
    else:
        report.check(FAIL, answered, messages or "unexpected answer")
