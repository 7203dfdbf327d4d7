// Performance and Failures overviews (what the portal's views of the same names give): per
// operation the numbers, over time a chart, and from an operation to its items and from an
// item to its end-to-end transaction. Read from /api/performance and /api/failures.
//
// Routes: #/performance?type=request|dependency&role=&window=&name=&target=
//         #/failures?... (the same parameters)

import { api } from "./api.js";
import { barList, lineChart } from "./chart.js";
import { WINDOWS, sinceFor } from "./lists.js";
import { fill, fmtDuration, fmtNumber, fmtPercent, fmtTime, h, resultText, roleBadge, successBadge } from "./util.js";

const MODES = {
  performance: { title: "Performance", fetch: api.performance },
  failures: { title: "Failures", fetch: api.failures },
};

export function overviewView(mode, params, app) {
  const cfg = MODES[mode];
  const st = {
    type: params.get("type") === "dependency" ? "dependency" : "request",
    role: params.get("role") || "", window: params.get("window") || "all",
    name: params.get("name"), target: params.get("target"), opRole: params.get("oprole"),
  };
  const noun = st.type === "request" ? "requests" : "dependencies";
  const typeTabs = h("div", { class: "seg", role: "group", "aria-label": "Telemetry type" },
    ["request", "dependency"].map((t) => h("a", {
      href: `#/${mode}?type=${t}`, class: t === st.type ? "seg-on" : "", "data-testid": `${mode}-type-${t}`,
      "aria-current": t === st.type ? "true" : null,
    }, t === "request" ? "Requests" : "Dependencies")));
  const roleSelect = h("select", { "data-testid": "overview-role", "aria-label": "Role" });
  const windowSelect = h("select", { "data-testid": "overview-window", "aria-label": "Time range" },
    WINDOWS.map(([v, label]) => h("option", { value: v }, label)));
  windowSelect.value = st.window;
  const charts = h("div", { class: "chart-row" });
  const opsWrap = h("div", { class: "table-wrap" });
  const side = h("div", { class: "overview-side" });
  const drill = h("section", { class: "drill", "data-testid": "operation-items", hidden: true });
  const el = h("section", { class: `view overview-view ${mode}-view`, "data-testid": `${mode}-view`, dataset: { type: st.type } },
    h("div", { class: "view-head" }, h("h2", {}, cfg.title), typeTabs,
      h("p", { class: "list-summary", "data-testid": "overview-summary" }, "Loading…")),
    h("form", { class: "filters", onsubmit: (e) => e.preventDefault() },
      h("label", { class: "field" }, h("span", {}, "Role"), roleSelect),
      h("label", { class: "field" }, h("span", {}, "Time"), windowSelect)),
    charts, h("div", { class: mode === "failures" ? "overview-grid" : "" }, opsWrap, mode === "failures" ? side : null), drill);

  const selected = () => st.name !== null && st.name !== undefined;

  function hash() {
    const qs = new URLSearchParams({ type: st.type });
    if (st.role) qs.set("role", st.role);
    if (st.window !== "all") qs.set("window", st.window);
    if (selected()) {
      qs.set("name", st.name);
      if (st.opRole !== null && st.opRole !== undefined) qs.set("oprole", st.opRole);
      if (st.target) qs.set("target", st.target);
    }
    const next = `#/${mode}?${qs}`;
    if (location.hash !== next) history.replaceState(null, "", next);
  }

  function query(extra) {
    const since = sinceFor(st.window);
    return { type: st.type, role: st.role, since: since ? new Date(since).toISOString() : "", buckets: 48, ...extra };
  }

  function opQuery() {
    return { name: st.name, role: st.opRole ?? st.role, target: st.target || "" };
  }

  function opLabel(op) {
    return st.type === "dependency"
      ? [h("span", { class: "dep-type" }, op.dependency_type || ""), " ", op.name, h("span", { class: "muted target" }, " → " + (op.target || ""))]
      : op.name;
  }

  function select(op) {
    if (op && !(st.name === op.name && st.opRole === op.role && (st.target || "") === (op.target || ""))) {
      st.name = op.name; st.opRole = op.role; st.target = op.target || "";
    } else {
      st.name = null; st.opRole = null; st.target = null;
    }
    hash();
    load();
  }

  function opsTable(ops) {
    const perf = mode === "performance";
    const cols = perf
      ? [["Operation"], ["Role"], ["Count", "right"], ["Failed", "right"], ["Avg", "right"], ["P50", "right"], ["P95", "right"], ["P99", "right"]]
      : [["Operation"], ["Role"], ["Failed", "right"], ["Count", "right"], ["Failure rate", "right"]];
    const isSel = (op) => selected() && st.name === op.name && st.opRole === op.role && (st.target || "") === (op.target || "");
    const shown = perf ? ops : ops.filter((o) => o.failed > 0 || isSel(o));
    if (!shown.length) {
      return h("div", { class: "empty", "data-testid": "empty-state" }, h("p", { class: "empty-title" },
        perf ? `No ${noun} yet.` : `No failed ${noun}.`), perf ? h("p", {}, "Point your app at the connection string above.") : null);
    }
    return h("table", { class: "grid clickable", "data-testid": "operations-table" },
      h("thead", {}, h("tr", {}, cols.map(([c, cls]) => h("th", { scope: "col", class: cls || null }, c)))),
      h("tbody", {}, shown.map((op) => h("tr", {
        tabindex: "0", "data-testid": "operation-row", class: isSel(op) ? "row-selected" : null,
        dataset: { name: op.name, role: op.role ?? "", target: op.target ?? "", items: op.count, failed: op.failed,
          p50: op.p50 ?? "", p95: op.p95 ?? "", p99: op.p99 ?? "" },
        title: `Show the ${perf ? "" : "failed "}${noun} of this operation`,
        onclick: () => select(op),
        onkeydown: (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); select(op); } },
      }, perf
        ? [h("td", {}, h("span", { class: "op-name" }, opLabel(op))), h("td", {}, roleBadge(op.role)), h("td", { class: "right num" }, fmtNumber(op.count)),
          h("td", { class: `right num ${op.failed ? "fail-text" : ""}` }, fmtNumber(op.failed)),
          ...["avg_ms", "p50", "p95", "p99"].map((k) => h("td", { class: "right num" }, fmtDuration(op[k])))]
        : [h("td", {}, h("span", { class: "op-name" }, opLabel(op))), h("td", {}, roleBadge(op.role)),
          h("td", { class: "right num fail-text" }, fmtNumber(op.failed)), h("td", { class: "right num" }, fmtNumber(op.count)),
          h("td", { class: "right num" }, fmtPercent(op.failure_rate))]))));
  }

  function renderCharts(res) {
    const from = res.since ? Date.parse(res.since) : undefined;
    const to = res.until ? Date.parse(res.until) : undefined;
    const what = selected() ? st.name : `all ${noun}`;
    const s = res.series;
    if (mode === "performance") {
      fill(charts, h("div", { class: "card" }, h("h3", { class: "card-title" }, `Duration over time · ${what}`),
        lineChart({ testid: "duration-chart", fmt: fmtDuration, from, to, label: "duration over time",
          lines: [{ label: "average", points: s.map((p) => ({ time: p.time, value: p.avg_ms, note: `${p.count} items` })) },
            { label: "p95", points: s.map((p) => ({ time: p.time, value: p.p95 })) }] })),
      h("div", { class: "card" }, h("h3", { class: "card-title" }, `Count over time · ${what}`),
        lineChart({ testid: "count-chart", fmt: fmtNumber, from, to, label: "count over time",
          lines: [{ label: "", points: s.map((p) => ({ time: p.time, value: p.count })) }] })));
    } else {
      fill(charts, h("div", { class: "card" }, h("h3", { class: "card-title" }, `Failed ${noun} over time · ${what}`),
        lineChart({ testid: "failed-chart", fmt: fmtNumber, from, to, label: "failed count over time",
          lines: [{ label: "", points: s.map((p) => ({ time: p.time, value: p.failed, note: `of ${p.count}` })) }] })),
      h("div", { class: "card" }, h("h3", { class: "card-title" }, `Failure rate over time · ${what}`),
        lineChart({ testid: "rate-chart", fmt: (v) => fmtPercent(v), from, to, label: "failure rate over time",
          lines: [{ label: "", points: s.map((p) => ({ time: p.time, value: p.failure_rate })) }] })));
    }
    return s;
  }

  function renderSide(res) {
    fill(side,
      h("div", { class: "card" }, h("h3", { class: "card-title" }, "Top exception types"),
        barList(res.exception_types.map((r) => ({ label: r.exception_type || "(none)", value: r.count })), { testid: "top-exceptions", fmt: fmtNumber, empty: "No exceptions in the failed operations." })),
      h("div", { class: "card" }, h("h3", { class: "card-title" }, "Top result codes"),
        barList(res.result_codes.map((r) => ({ label: resultText({ type: st.type, success: false, result_code: r.result_code }), value: r.count, title: `result code ${r.result_code}` })), { testid: "top-result-codes", fmt: fmtNumber, empty: "No failures." })));
  }

  async function renderDrill(token) {
    if (!selected()) { drill.hidden = true; return; }
    const since = sinceFor(st.window);
    const res = await api.items({ type: st.type, ...opQuery(), success: mode === "failures" ? "false" : "",
      since: since ? new Date(since).toISOString() : "", limit: 100 });
    if (token !== st.token) return;
    drill.hidden = false;
    fill(drill, h("h3", { class: "card-title" }, `${mode === "failures" ? "Failed " : ""}${noun} of ${st.name}`,
      h("button", { type: "button", class: "btn btn-small", "data-testid": "close-operation", onclick: () => select(null) }, "Show all operations")),
    h("div", { class: "table-wrap" }, h("table", { class: "grid clickable", "data-testid": "drill-table" },
      h("thead", {}, h("tr", {}, ["Time", "Name", "Result", "Duration", "Success", "Role"].map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, res.items.map((item) => h("tr", {
        tabindex: "0", "data-testid": "drill-row", dataset: { itemId: item.id, operationId: item.operation_id || "" },
        title: "Open the end-to-end transaction",
        onclick: () => { if (item.operation_id) location.hash = `#/operation/${encodeURIComponent(item.operation_id)}?item=${item.id}`; },
        onkeydown: (e) => { if (e.key === "Enter" && item.operation_id) location.hash = `#/operation/${encodeURIComponent(item.operation_id)}?item=${item.id}`; },
      }, h("td", {}, fmtTime(item.time)), h("td", {}, h("span", { class: "op-name" }, item.name || "")),
      h("td", {}, h("span", { class: item.success === false ? "code bad" : "code" }, resultText(item))),
      h("td", { class: "num" }, fmtDuration(item.duration_ms)), h("td", {}, successBadge(item.success)), h("td", {}, roleBadge(item.role))))))));
  }

  // Aggregates read every matching item: the poll recomputes them only when the store changed.
  function changed() {
    if (st.seen === null || st.seen === app.lastStored) { st.seen = app.lastStored; return false; }
    st.seen = app.lastStored;
    return true;
  }

  async function load() {
    st.seen = app.lastStored;
    const token = (st.token = {});
    const all = await cfg.fetch(query());
    const one = selected() ? await cfg.fetch(query(opQuery())) : all;
    if (token !== st.token) return;
    const total = all.operations.reduce((n, o) => n + o.count, 0);
    const failed = all.operations.reduce((n, o) => n + o.failed, 0);
    el.querySelector("[data-testid=overview-summary]").textContent =
      `${fmtNumber(total)} ${noun} in ${fmtNumber(all.operations.length)} operation${all.operations.length === 1 ? "" : "s"}, ${fmtNumber(failed)} failed`;
    renderCharts(one);
    fill(opsWrap, opsTable(all.operations));
    if (mode === "failures") renderSide(one);
    await renderDrill(token);
  }

  function fillRoles(roles) {
    fill(roleSelect, h("option", { value: "" }, "All roles"), roles.map((r) => h("option", { value: r.role ?? "" }, r.role || "(no role)")));
    if (st.role && !roles.some((r) => r.role === st.role)) roleSelect.append(h("option", { value: st.role }, st.role));
    roleSelect.value = st.role;
  }

  roleSelect.addEventListener("change", () => { st.role = roleSelect.value; hash(); load().catch((e) => app.setError(e.message)); });
  windowSelect.addEventListener("change", () => { st.window = windowSelect.value; hash(); load().catch((e) => app.setError(e.message)); });
  fillRoles(app.roles);
  hash();
  load().catch((e) => app.setError(e.message));
  return { el, refresh: () => (changed() ? load() : null), onRoles: fillRoles };
}
