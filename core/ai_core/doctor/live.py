"""The doctor's Live Metrics line: whether the app would stream, to where, and why (README, "Live Metrics")."""

from __future__ import annotations

from ai_core.doctor.report import OK, WARN, Checklist
from ai_core.options import Options


def check_live_metrics(options: Options, report: Checklist) -> None:
    """Nothing is sent: the decision configure() would make, in words."""
    from ai_core.live_metrics import decide

    cs = options.connection_string
    if cs is None:
        return
    decision = decide(options.live_metrics, cs)
    if decision.on:
        report.check(OK, "live metrics", "streams to %s (%s); each process pings every 5 s after its first "
                     "request or log record, and posts every second while the portal watches" % (
                         decision.url, decision.reason))
        if options.credential is not None:
            from ai_core.delivery.auth import scope_for

            report.note("Entra ID via %s (scope %s)" % (type(options.credential).__name__, scope_for(cs.aad_audience)))
    elif options.live_metrics is True:
        report.check(WARN, "live metrics", "off although live_metrics is True: %s" % decision.reason)
    else:
        report.check(OK, "live metrics", "off: %s" % decision.reason)
