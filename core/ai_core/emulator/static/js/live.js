// The Live tab: Live Metrics from every app streaming to the emulator, as the portal's Live
// Metrics view shows them. While this tab is open and the page visible it tells the emulator
// every second that a viewer is watching (POST /api/live/subscribe): the apps' pings are then
// answered "subscribed" and they post one data point a second. Switching away, closing the page
// or pausing stops the heartbeat and the apps go back to pinging within seconds.
//
// Route: #/live?role=<role>
// Shows, per role and instance: the latest values (servers table), one-second charts of the
// last minute, and the feed of sample documents the filter box selects (the filter goes to the
// apps as the DocumentStreams of their collection configuration; syntax in live_filter.py).

import { api } from "./api.js";
import { lineChart, seriesColor } from "./chart.js";
import { fill, fmtClock, fmtDuration, fmtNumber, h, parseTime, roleBadge } from "./util.js";

const TICK_MS = 1000;
const MAX_FEED = 200;

const rate = (v) => `${fmtNumber(Math.round(v * 100) / 100)}/s`;
const ms = (v) => fmtDuration(v);
const bytes = (v) => (v >= 1 << 30 ? `${(v / (1 << 30)).toFixed(2)} GB` : `${(v / (1 << 20)).toFixed(1)} MB`);
const pct = (v) => `${(Math.round(v * 10) / 10).toFixed(1)}%`;

// [protocol name, label, format, short column title]
export const LIVE_METRICS = [
  ["\\ApplicationInsights\\Requests/Sec", "Requests", rate, "Req/s"],
  ["\\ApplicationInsights\\Requests Failed/Sec", "Failed requests", rate, "Failed/s"],
  ["\\ApplicationInsights\\Request Duration", "Request duration", ms, "Req duration"],
  ["\\ApplicationInsights\\Dependency Calls/Sec", "Dependency calls", rate, "Dep/s"],
  ["\\ApplicationInsights\\Dependency Calls Failed/Sec", "Failed dependency calls", rate, "Dep failed/s"],
  ["\\ApplicationInsights\\Dependency Call Duration", "Dependency call duration", ms, "Dep duration"],
  ["\\ApplicationInsights\\Exceptions/Sec", "Exceptions", rate, "Exc/s"],
  ["\\Memory\\Committed Bytes", "Committed memory", bytes, "Committed"],
  ["\\Process\\Physical Bytes", "Process physical memory", bytes, "Physical"],
  ["\\Processor(_Total)\\% Processor Time", "CPU, all processors", pct, "CPU"],
  ["\\% Process\\Processor Time Normalized", "Process CPU, normalized", pct, "Process CPU"],
];

const EXAMPLES = [
  "requests where Success = false and role = shop",
  "dependencies where Duration > 500",
  "requests where ResponseCode >= 500 or exceptions",
  "traces where Message contains timeout",
];

const CHART_EXAMPLES = [
  "count of requests where Success = false",
  "avg Duration of requests where Name contains checkout",
  "max Duration of dependencies",
  "count of exceptions",
];

const TYPE_LABEL = { Request: "Request", RemoteDependency: "Dependency", Exception: "Exception", Event: "Event", Trace: "Trace", Unknown: "Other" };

/** "PT0.0010105S", "PT1M5.5S", "P1DT2H" -> milliseconds */
function isoMs(text) {
  const m = /^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:([\d.]+)S)?)?$/.exec(text || "");
  if (!m) return null;
  return ((+(m[1] || 0) * 24 + +(m[2] || 0)) * 60 + +(m[3] || 0)) * 60000 + +(m[4] || 0) * 1000;
}

function streamLabel(s) {
  return `${s.role || "(no role)"} · ${s.instance || "(no instance)"}`;
}

function docSummary(d) {
  const doc = d.document || {};
  switch (d.type) {
    case "Request": return { name: doc.Name || doc.Url || "", detail: doc.Url || "", result: doc.ResponseCode, duration: isoMs(doc.Duration) };
    case "RemoteDependency": return { name: doc.Name || "", detail: doc.CommandName || "", result: doc.ResultCode, duration: isoMs(doc.Duration) };
    case "Exception": return { name: [doc.ExceptionType || "Exception", doc.ExceptionMessage].filter(Boolean).join(": "), detail: doc.ExceptionMessage || "" };
    case "Event": return { name: doc.Name || "" };
    case "Trace": return { name: doc.Message || "" };
    default: return { name: JSON.stringify(doc).slice(0, 200) };
  }
}

function looksFailed(d, s) {
  if (d.type === "Exception") return true;
  const code = Number(s.result);
  return (d.type === "Request" || d.type === "RemoteDependency") && Number.isFinite(code) && (code >= 500 || (d.type === "Request" && code >= 400));
}

export function liveView(params, app) {
  const st = { role: params.get("role") || "", lastSeq: 0, feed: [], streamId: null, timer: null, alive: true,
    inFlight: false, snapshot: null, filterText: null, roles: [] };

  const roleSelect = h("select", { id: "live-role", "data-testid": "live-role" });
  const filterInput = h("input", { id: "live-filter", "data-testid": "live-filter", type: "search", autocomplete: "off",
    placeholder: "e.g. dependencies where Duration > 500 (empty: failed requests and dependencies, exceptions, events, traces)",
    list: "live-filter-examples", title: "Empty: the portal's default stream (failed requests and dependencies, all exceptions, events and traces)" });
  const filterError = h("p", { class: "filter-error", "data-testid": "live-filter-error", role: "alert", hidden: true });
  const chartsError = h("p", { class: "filter-error", "data-testid": "live-charts-error", role: "alert", hidden: true });
  const chartsInput = h("input", { id: "live-charts-input", "data-testid": "live-charts-input", type: "search", autocomplete: "off",
    placeholder: "e.g. avg Duration of dependencies where Target contains inventory; count of requests where Success = false",
    list: "live-charts-examples" });
  const applied = h("p", { class: "muted live-applied", "data-testid": "live-filter-applied" });
  const status = h("span", { class: "badge live-state", "data-testid": "live-subscription" }, "Connecting…");
  const summary = h("p", { class: "list-summary", "data-testid": "live-summary", "aria-live": "polite" });
  const servers = h("div", { class: "table-wrap live-servers", "data-testid": "live-servers" });
  const errors = h("div", { "data-testid": "live-config-errors" });
  const charts = h("div", { class: "chart-grid live-charts", "data-testid": "live-charts" });
  const legend = h("div", { class: "legend live-legend", "data-testid": "live-legend" });
  const chartsSection = h("div", { hidden: true }, h("h3", { class: "section-title" }, "Last minute, one point a second"),
    legend, charts);
  const feed = h("div", { class: "table-wrap live-feed", "data-testid": "live-feed" });

  const form = h("form", { class: "filters", role: "search", "aria-label": "Live filter", onsubmit: (e) => { e.preventDefault(); applyFilter(filterInput.value); } },
    h("label", { class: "field", for: "live-role" }, h("span", {}, "Role"), roleSelect),
    h("label", { class: "field grow", for: "live-filter" }, h("span", {}, "Sample documents (sent to the apps as their filter)"), filterInput),
    h("button", { type: "submit", class: "btn", "data-testid": "live-filter-apply" }, "Apply"),
    h("button", { type: "button", class: "btn", "data-testid": "live-filter-reset", onclick: () => { filterInput.value = ""; applyFilter(""); } }, "Default"),
    h("datalist", { id: "live-filter-examples" }, EXAMPLES.map((x) => h("option", { value: x }))));
  const chartsForm = h("form", { class: "filters", "aria-label": "Charts of your own", onsubmit: (e) => { e.preventDefault(); applyCharts(chartsInput.value); } },
    h("label", { class: "field grow", for: "live-charts-input" }, h("span", {}, "Charts of your own (each app computes them every second; separate with ;)"), chartsInput),
    h("button", { type: "submit", class: "btn", "data-testid": "live-charts-apply" }, "Chart"),
    h("datalist", { id: "live-charts-examples" }, CHART_EXAMPLES.map((x) => h("option", { value: x }))));

  const el = h("section", { class: "view live-view", "data-testid": "live-view" },
    h("div", { class: "view-head" }, h("h2", {}, "Live metrics"), status, summary),
    form, filterError, applied, chartsForm, chartsError, errors,
    h("h3", { class: "section-title" }, "Servers"), servers,
    chartsSection,
    h("h3", { class: "section-title" }, "Sample documents"), feed);

  roleSelect.addEventListener("change", () => {
    st.role = roleSelect.value;
    const next = `#/live${st.role ? "?role=" + encodeURIComponent(st.role) : ""}`;
    if (location.hash !== next) history.replaceState(null, "", next);
    render();
  });

  async function applyFilter(text) {
    try {
      const config = await api.liveFilter(text);
      filterError.hidden = true;
      st.filterText = config.filter;
      adoptConfig(config);
      await tick();
    } catch (err) {
      filterError.textContent = err.message;
      filterError.hidden = false;
    }
  }

  async function applyCharts(text) {
    try {
      const config = await api.liveCharts(text);
      chartsError.hidden = true;
      st.chartsText = config.charts_text;
      adoptConfig(config);
      await tick();
    } catch (err) {
      chartsError.textContent = err.message;
      chartsError.hidden = false;
    }
  }

  function adoptConfig(config) {
    st.charts = config.charts || [];
    if (config.document_stream_id !== st.streamId) {
      // A new filter: the feed starts over with what it selects.
      st.streamId = config.document_stream_id;
      st.feed = [];
    }
    const groups = config.groups.map((g) => {
      const conds = [...g.Servers.map((s) => `${s.Field} ${s.Predicate} ${s.Comparand}`),
        ...g.Filters.Filters.map((f) => `${f.FieldName} ${f.Predicate} ${f.Comparand}`)];
      return `${g.TelemetryType}${conds.length ? " where " + conds.join(" and ") : ""}`;
    });
    fill(applied, groups.length ? `Apps send: ${groups.join("  or  ")}` : "Apps send no documents.");
  }

  function fillRoles(streams) {
    const roles = [...new Set([...streams.map((s) => s.role), ...app.roles.map((r) => r.role)].filter(Boolean))].sort();
    if (st.role && !roles.includes(st.role)) roles.push(st.role);
    const signature = JSON.stringify(roles);
    if (signature === st.rolesSignature) return;
    st.rolesSignature = signature;
    fill(roleSelect, h("option", { value: "" }, "All roles"), roles.map((r) => h("option", { value: r }, r)));
    roleSelect.value = st.role;
  }

  function visibleStreams() {
    const streams = (st.snapshot && st.snapshot.streams) || [];
    return streams.filter((s) => !st.role || s.role === st.role)
      .sort((a, b) => streamLabel(a).localeCompare(streamLabel(b)));
  }

  function latest(s) {
    const pts = s.points;
    return pts.length ? pts[pts.length - 1].metrics : {};
  }

  function renderServers(streams) {
    if (!streams.length) {
      fill(servers, h("div", { class: "empty", "data-testid": "live-empty" },
        h("p", { class: "empty-title" }, "No app is streaming Live Metrics yet."),
        h("p", {}, "Apps configured with this emulator's connection string (it names the emulator as LiveEndpoint) ping it every few seconds and stream while this tab is open.")));
      return;
    }
    fill(servers, h("table", { class: "grid", "data-testid": "live-servers-table" },
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Role"), h("th", { scope: "col" }, "Instance"), h("th", { scope: "col" }, "State"),
        LIVE_METRICS.map(([, label, , short]) => h("th", { scope: "col", class: "right", title: label }, short)))),
      h("tbody", {}, streams.map((s) => {
        const m = latest(s);
        return h("tr", { "data-testid": "live-server-row", dataset: { role: s.role, instance: s.instance } },
          h("td", {}, roleBadge(s.role)), h("td", { class: "code" }, s.instance || "–"),
          h("td", {}, h("span", { class: `badge ${s.state === "posting" ? "ok" : ""}`, title: `stream ${s.stream_id}` }, s.state)),
          LIVE_METRICS.map(([name, , fmt]) => h("td", { class: "right num", "data-metric": name, "data-value": name in m ? String(m[name]) : "" },
            name in m ? fmt(m[name]) : "–")));
      }))));
  }

  function renderCharts(streams) {
    chartsSection.hidden = !streams.length; // the servers' empty state says it all
    if (!streams.length) return;
    const now = Date.now();
    const from = now - ((st.snapshot && st.snapshot.window_s) || 60) * 1000;
    // One legend for every chart (each draws the apps in this order, so in these colours).
    fill(legend, streams.map((s, i) => h("span", { class: "legend-item", style: { "--c": seriesColor(i) } }, streamLabel(s))));
    const own = (st.charts || []).map((c) => [c.Id, c.Label, c.Projection === "Duration" ? ms : fmtNumber, c]);
    const standard = LIVE_METRICS.map(([name, label, fmt]) => [name, label, fmt, null]);
    fill(charts, [...standard, ...own].map(([name, label, fmt, derived]) => {
      const lines = streams.map((s) => ({
        label: streams.length > 1 || st.role === "" ? streamLabel(s) : "",
        points: s.points.filter((p) => name in p.metrics).map((p) => ({ time: p.time, value: p.metrics[name] })),
      }));
      const current = streams.map((s) => latest(s)[name]).filter((v) => v !== undefined);
      const total = /\/Sec$/.test(name) || (derived && derived.Projection === "Count()") ? current.reduce((a, b) => a + b, 0) : null;
      return h("article", { class: `card live-card${derived ? " live-own" : ""}`, "data-testid": "live-chart-card",
        dataset: { metric: name, own: derived ? "1" : null } },
        h("div", { class: "card-head" }, h("h3", { class: "card-title" }, label),
          h("span", { class: "live-now num", "data-testid": "live-now" }, total !== null && current.length ? fmt(total) : current.length === 1 ? fmt(current[0]) : "")),
        lineChart({ lines, fmt, testid: "live-chart", from, to: now, empty: "No data points in the last minute.", label: `${label}, last minute` }));
    }));
  }

  function renderErrors(streams) {
    const reported = streams.filter((s) => s.configuration_errors && s.configuration_errors.length);
    fill(errors, reported.map((s) => h("div", { class: "banner banner-warn", "data-testid": "live-config-error" },
      `${streamLabel(s)} could not apply part of the filter: `,
      s.configuration_errors.map((e) => e.Message || e.CollectionConfigurationErrorType).join("; "))));
  }

  function renderFeed() {
    const docs = st.feed.filter((d) => !st.role || d.role === st.role);
    if (!docs.length) {
      fill(feed, h("div", { class: "empty", "data-testid": "live-feed-empty" },
        h("p", { class: "empty-title" }, "No sample documents yet."),
        h("p", {}, "The apps send the documents the filter selects, while this tab is open.")));
      return;
    }
    fill(feed, h("table", { class: "grid", "data-testid": "live-feed-table" },
      h("thead", {}, h("tr", {}, ["Time", "Role", "Instance", "Type", "Name", "Result", "Duration"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, docs.map((d) => {
        const s = docSummary(d);
        return h("tr", { "data-testid": "live-document", class: looksFailed(d, s) ? "row-bad" : null, dataset: { type: d.type, role: d.role } },
          h("td", { class: "num" }, fmtClock(parseTime(d.time))), h("td", {}, roleBadge(d.role)), h("td", { class: "code" }, d.instance),
          h("td", {}, h("span", { class: `badge kind kind-${(TYPE_LABEL[d.type] || "other").toLowerCase()}` }, TYPE_LABEL[d.type] || d.type)),
          h("td", { class: "op-name", title: s.detail || s.name }, s.name),
          h("td", { class: "num" }, s.result ?? ""), h("td", { class: "num right" }, s.duration != null ? fmtDuration(s.duration) : ""));
      }))));
  }

  function render() {
    const snap = st.snapshot;
    if (!snap) return;
    const streams = visibleStreams();
    fillRoles(snap.streams);
    const posting = snap.streams.filter((s) => s.state === "posting").length;
    status.textContent = snap.subscribed ? "Subscribed" : "Not subscribed";
    status.className = `badge live-state ${snap.subscribed ? "ok" : ""}`;
    fill(summary, `${snap.streams.length} app${snap.streams.length === 1 ? "" : "s"} connected, ${posting} streaming`);
    renderServers(streams);
    renderErrors(streams);
    renderCharts(streams);
    renderFeed();
  }

  async function tick() {
    if (!st.alive || st.inFlight) return;
    st.inFlight = true;
    try {
      if (!app.paused && !document.hidden) await api.liveSubscribe();
      const snap = await api.live({ after_seq: st.lastSeq });
      if (!st.alive) return;
      st.snapshot = snap;
      if (st.filterText === null) {
        st.filterText = snap.configuration.filter;
        if (document.activeElement !== filterInput) filterInput.value = st.filterText;
        st.chartsText = snap.configuration.charts_text;
        if (document.activeElement !== chartsInput) chartsInput.value = st.chartsText || "";
      }
      adoptConfig(snap.configuration);
      st.lastSeq = snap.last_seq;
      // Documents chosen by the current filter (an app that names no stream is shown too).
      const fresh = snap.documents.filter((d) => {
        const ids = d.document.DocumentStreamIds;
        return !Array.isArray(ids) || !ids.length || ids.includes(st.streamId);
      });
      st.feed = [...fresh.reverse(), ...st.feed].slice(0, MAX_FEED);
      render();
    } catch (err) {
      app.setError(err.message);
    } finally {
      st.inFlight = false;
    }
  }

  function schedule() {
    clearTimeout(st.timer);
    if (!st.alive) return;
    st.timer = setTimeout(async () => {
      if (!app.paused && !document.hidden) await tick();
      schedule();
    }, TICK_MS);
  }

  const onVisible = () => { if (!document.hidden) tick(); };
  document.addEventListener("visibilitychange", onVisible);
  fill(servers, h("p", { class: "muted pad" }, "Loading…"));
  fillRoles([]);
  tick().finally(schedule);

  return {
    el,
    onRoles: () => render(),
    destroy() {
      st.alive = false;
      clearTimeout(st.timer);
      document.removeEventListener("visibilitychange", onVisible);
    },
  };
}
