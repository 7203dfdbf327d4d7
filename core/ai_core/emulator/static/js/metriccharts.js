// Metric charts: one chart per metric name over time, split by role or by a custom dimension
// present on the metrics, with the statistic the metric's own aggregation suggests (sum for
// counters and single values, average with min/max for pre-aggregated histograms such as the
// standard requests/duration and dependencies/duration). The Metrics list keeps the raw items.
//
// Route: #/charts?split=role|<dimension>&window=&resource=1

import { api } from "./api.js";
import { lineChart } from "./chart.js";
import { WINDOWS, sinceFor } from "./lists.js";
import { fill, fmtNumber, h } from "./util.js";

const STATS = [["sum", "Sum"], ["avg", "Average"], ["min", "Min"], ["max", "Max"], ["count", "Count"]];
const STANDARD_LABEL = { "requests/duration": "Server response time", "dependencies/duration": "Dependency duration" };

export function metricChartsView(params, app) {
  const st = { split: params.get("split") || "", window: params.get("window") || "all", resource: params.get("resource") === "1", stats: {} };
  const splitSelect = h("select", { "data-testid": "metrics-split", "aria-label": "Split by" });
  const windowSelect = h("select", { "data-testid": "metrics-window", "aria-label": "Time range" },
    WINDOWS.map(([v, label]) => h("option", { value: v }, label)));
  windowSelect.value = st.window;
  const resourceBox = h("input", { type: "checkbox", "data-testid": "metrics-resource", checked: st.resource });
  const grid = h("div", { class: "chart-grid", "data-testid": "metric-charts" }, h("p", { class: "muted" }, "Loading…"));
  const el = h("section", { class: "view metrics-view", "data-testid": "metric-charts-view" },
    h("div", { class: "view-head" }, h("h2", {}, "Metric charts"),
      h("p", { class: "list-summary" }, "One chart per metric name; ", h("a", { href: "#/metrics" }, "the Metrics list"), " has the raw items.")),
    h("form", { class: "filters", onsubmit: (e) => e.preventDefault() },
      h("label", { class: "field" }, h("span", {}, "Split by"), splitSelect),
      h("label", { class: "field" }, h("span", {}, "Time"), windowSelect),
      h("label", { class: "field check" }, resourceBox, h("span", {}, "Show _OTELRESOURCE_ rows"))),
    grid);

  function hash() {
    const qs = new URLSearchParams();
    if (st.split) qs.set("split", st.split);
    if (st.window !== "all") qs.set("window", st.window);
    if (st.resource) qs.set("resource", "1");
    const next = `#/charts${qs.toString() ? "?" + qs : ""}`;
    if (location.hash !== next) history.replaceState(null, "", next);
  }

  function fillSplit(metrics) {
    const dims = [...new Set(metrics.flatMap((m) => m.dimensions))].sort();
    if (st.split && st.split !== "role" && !dims.includes(st.split)) dims.push(st.split);
    fill(splitSelect, h("option", { value: "" }, "Nothing"), h("option", { value: "role" }, "Role"),
      dims.map((d) => h("option", { value: d }, d)));
    splitSelect.value = st.split;
  }

  function card(metric, res) {
    const stat = st.stats[metric.name] || metric.aggregation;
    const statSelect = h("select", { "data-testid": "metric-stat", "aria-label": `Statistic of ${metric.name}`,
      onchange: () => { st.stats[metric.name] = statSelect.value; load(); } },
    STATS.map(([v, label]) => h("option", { value: v }, label)));
    statSelect.value = stat;
    const lines = res.groups.map((g) => ({
      label: st.split ? g.value || "(none)" : "",
      points: g.series.map((p) => ({ time: p.time, value: p[stat], note: `n=${p.count} · min ${fmtNumber(p.min)} · max ${fmtNumber(p.max)}` })),
    }));
    return h("article", { class: "card", "data-testid": "metric-card", dataset: { metric: metric.name, standard: metric.standard || "" } },
      h("div", { class: "card-head" },
        h("h3", { class: "card-title" }, metric.name,
          metric.standard ? h("span", { class: "badge std", title: "A standard metric: the portal's Performance and Failures views are built on it" },
            `${metric.standard} · ${STANDARD_LABEL[metric.standard]}`) : null),
        h("label", { class: "field inline" }, h("span", {}, "Show"), statSelect)),
      lineChart({ lines, testid: "metric-chart", fmt: fmtNumber, from: res.since ? Date.parse(res.since) : undefined,
        to: res.until ? Date.parse(res.until) : undefined, label: `${metric.name} over time` }),
      h("p", { class: "muted card-foot" }, `${fmtNumber(metric.items)} item${metric.items === 1 ? "" : "s"} · ${metric.aggregation === "avg" ? "pre-aggregated: average shown, min/max on hover" : "single values: sum per interval"}`));
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
    const since = sinceFor(st.window);
    const { metrics } = await api.metrics({ include_resource: st.resource ? "true" : "" });
    const results = await Promise.all(metrics.map((m) => api.metrics({
      name: m.name, split: st.split, since: since ? new Date(since).toISOString() : "", buckets: 48 })));
    if (token !== st.token) return;
    fillSplit(metrics);
    if (!metrics.length) {
      fill(grid, h("div", { class: "empty", "data-testid": "empty-state" }, h("p", { class: "empty-title" }, "No metrics yet."),
        h("p", {}, "Counters, histograms and gauges your app records show up here as charts.")));
      return;
    }
    fill(grid, metrics.map((m, i) => card(m, results[i])));
  }

  const reload = () => { hash(); load().catch((e) => app.setError(e.message)); };
  splitSelect.addEventListener("change", () => { st.split = splitSelect.value; reload(); });
  windowSelect.addEventListener("change", () => { st.window = windowSelect.value; reload(); });
  resourceBox.addEventListener("change", () => { st.resource = resourceBox.checked; reload(); });
  fillSplit([]);
  reload();
  return { el, refresh: () => (changed() ? load() : null) };
}
