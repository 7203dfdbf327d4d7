// The telemetry lists: one table per type with filters, newest first, live updates.

import { api } from "./api.js";
import { renderDetails } from "./details.js";
import {
  baseData, clear, fill, debounce, firstException, fmtDuration, fmtNumber, fmtTime, h, parseTime,
  resultText, roleBadge, severityBadge, successBadge,
} from "./util.js";

const timeCell = (item) => h("time", { datetime: item.time, title: item.time }, fmtTime(item.time));
const durationCell = (item) => h("span", { class: "num" }, fmtDuration(item.duration_ms));
const resultCell = (item) => h("span", { class: item.success === false ? "code bad" : "code", title: item.result_code ? `result code ${item.result_code}` : null }, resultText(item));
const roleCell = (item) => roleBadge(item.role);
const text = (value, cls) => h("span", { class: cls || "cell-text", title: value || "" }, value || "");

function propsSummary(props) {
  const entries = Object.entries(props || {});
  if (!entries.length) return h("span", { class: "muted" }, "–");
  return h("span", { class: "props" }, entries.slice(0, 4).map(([k, v]) => h("span", { class: "prop" }, h("b", {}, k), "=", String(v))),
    entries.length > 4 ? h("span", { class: "muted" }, ` +${entries.length - 4}`) : null);
}

function metricValue(item) {
  const m = (baseData(item).metrics || [])[0] || {};
  if (m.count > 1) {
    return h("span", { class: "num", title: "value is the sum of the aggregated samples" },
      `sum ${fmtNumber(m.value)} · n=${m.count} · min ${fmtNumber(m.min)} · max ${fmtNumber(m.max)}`);
  }
  return h("span", { class: "num" }, fmtNumber(m.value));
}

export const KINDS = {
  requests: {
    type: "request", title: "Requests", hasSuccess: true,
    columns: [
      ["Time", timeCell], ["Name", (i) => text(i.name, "cell-name")], ["Result", resultCell],
      ["Duration", durationCell, "right"], ["Success", (i) => successBadge(i.success)], ["Role", roleCell],
    ],
  },
  dependencies: {
    type: "dependency", title: "Dependencies", hasSuccess: true,
    columns: [
      ["Time", timeCell], ["Type", (i) => h("span", { class: "dep-type" }, baseData(i).type || "")],
      ["Target", (i) => text(baseData(i).target || i.target)], ["Name", (i) => text(i.name, "cell-name")],
      ["Result", resultCell], ["Duration", durationCell, "right"], ["Success", (i) => successBadge(i.success)],
      ["Role", roleCell],
    ],
  },
  exceptions: {
    type: "exception", title: "Exceptions",
    columns: [
      ["Time", timeCell], ["Type", (i) => h("span", { class: "exc-type", title: firstException(i).typeName || "" }, firstException(i).typeName || "")],
      ["Message", (i) => text(firstException(i).message, "cell-name")],
      ["Operation", (i) => text(i.envelope?.tags?.["ai.operation.name"], "muted")], ["Role", roleCell],
    ],
  },
  traces: {
    type: "trace", title: "Traces", hasSeverity: true,
    columns: [
      ["Time", timeCell], ["Severity", (i) => severityBadge(i.severity)],
      ["Message", (i) => text(baseData(i).message, "cell-name msg")], ["Role", roleCell],
    ],
  },
  events: {
    type: "event", title: "Custom events",
    columns: [
      ["Time", timeCell], ["Name", (i) => text(i.name, "cell-name")],
      ["Properties", (i) => propsSummary(baseData(i).properties)], ["Role", roleCell],
    ],
  },
  metrics: {
    type: "metric", title: "Metrics",
    columns: [
      ["Time", timeCell], ["Name", (i) => text(i.name, "cell-name")], ["Value", metricValue, "right"],
      ["Properties", (i) => propsSummary(baseData(i).properties)], ["Role", roleCell],
    ],
  },
};

export const WINDOWS = [["5m", "Last 5 minutes", 5], ["30m", "Last 30 minutes", 30], ["1h", "Last hour", 60],
  ["24h", "Last 24 hours", 1440], ["all", "All time", null]];

const PAGE = 200;
const MAX_ROWS = 2000;

// Each list keeps its own filters (a text typed in Requests does not empty Dependencies); they
// survive switching tabs and are shown, with one "Clear filters" action, on the list they apply to.
const NO_FILTERS = { role: "", window: "all", success: "", q: "", severity: "" };
const filtersByList = {};

export function sinceFor(windowKey) {
  const minutes = (WINDOWS.find((w) => w[0] === windowKey) || [])[2];
  return minutes ? Date.now() - minutes * 60000 : null;
}

function sortItems(items) {
  return items.sort((a, b) => (parseTime(b.time) - parseTime(a.time)) || (b.id - a.id));
}

export function listView(kindKey, params, app) {
  const kind = KINDS[kindKey];
  const shared = (filtersByList[kindKey] ||= { ...NO_FILTERS });
  for (const key of Object.keys(shared)) if (params.has(key)) shared[key] = params.get(key);
  const state = { items: [], maxId: 0, exhausted: false, loading: false, selectedId: null, error: null };

  const roleSelect = h("select", { id: "filter-role", "data-testid": "filter-role" });
  const windowSelect = h("select", { id: "filter-window", "data-testid": "filter-window" },
    WINDOWS.map(([v, label]) => h("option", { value: v }, label)));
  const successSelect = h("select", { id: "filter-success", "data-testid": "filter-success", disabled: !kind.hasSuccess },
    h("option", { value: "" }, "All results"), h("option", { value: "true" }, "Successful"), h("option", { value: "false" }, "Failed"));
  const severitySelect = h("select", { id: "filter-severity", "data-testid": "filter-severity" },
    h("option", { value: "" }, "Any severity"), h("option", { value: "1" }, "Information +"),
    h("option", { value: "2" }, "Warning +"), h("option", { value: "3" }, "Error +"));
  const textInput = h("input", { id: "filter-text", "data-testid": "filter-text", type: "search", placeholder: "Search the envelope JSON…", autocomplete: "off" });

  windowSelect.value = shared.window;
  successSelect.value = kind.hasSuccess ? shared.success : "";
  severitySelect.value = shared.severity;
  textInput.value = shared.q;

  const label = (id, text, control) => h("label", { class: "field", for: id }, h("span", {}, text), control);
  const filterBar = h("form", { class: "filters", role: "search", "aria-label": `Filter ${kind.title.toLowerCase()}`, onsubmit: (e) => e.preventDefault() },
    label("filter-role", "Role", roleSelect), label("filter-window", "Time", windowSelect),
    kind.hasSuccess ? label("filter-success", "Result", successSelect) : null,
    kind.hasSeverity ? label("filter-severity", "Severity", severitySelect) : null,
    h("label", { class: "field grow", for: "filter-text" }, h("span", {}, "Text"), textInput),
    h("button", { type: "button", class: "btn", "data-testid": "clear-filters", hidden: true, onclick: () => clearFilters() }, "Clear filters"));

  function isFiltered() {
    return Boolean(shared.role || shared.q || (kind.hasSuccess && shared.success) || shared.window !== "all" || (kind.hasSeverity && shared.severity));
  }

  function clearFilters() {
    Object.assign(shared, NO_FILTERS);
    roleSelect.value = ""; windowSelect.value = "all"; successSelect.value = ""; severitySelect.value = ""; textInput.value = "";
    syncHash();
    reload();
  }

  const summary = h("p", { class: "list-summary", "data-testid": "list-summary", "aria-live": "polite" });
  const tbody = h("tbody", {});
  const table = h("table", { class: "grid clickable", "data-testid": "items-table", dataset: { type: kind.type } },
    h("caption", { class: "sr-only" }, kind.title),
    h("thead", {}, h("tr", {}, kind.columns.map(([title, , cls]) => h("th", { scope: "col", class: cls || null }, title)))),
    tbody);
  const empty = h("div", { class: "empty", "data-testid": "empty-state", hidden: true });
  const moreBtn = h("button", { type: "button", class: "btn", "data-testid": "load-more", onclick: () => loadMore() }, "Load older items");
  const drawer = h("aside", { class: "drawer", "aria-label": "Item details", hidden: true });
  const el = h("section", { class: "view list-view", "data-testid": `list-${kindKey}` },
    h("div", { class: "view-head" }, h("h2", {}, kind.title), summary),
    filterBar, h("div", { class: "table-wrap" }, table), empty, h("div", { class: "more" }, moreBtn), drawer);

  function query(extra) {
    const since = sinceFor(shared.window);
    return {
      type: kind.type, role: shared.role, q: shared.q,
      success: kind.hasSuccess ? shared.success : "",
      since: since ? new Date(since).toISOString() : "",
      limit: PAGE, ...extra,
    };
  }

  function syncHash() {
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries(shared)) if (v && !(k === "window" && v === "all")) qs.set(k, v);
    const hash = `#/${kindKey}${qs.toString() ? "?" + qs : ""}`;
    if (location.hash !== hash) history.replaceState(null, "", hash);
  }

  function visible(item) {
    if (kind.hasSeverity && shared.severity !== "" && (item.severity ?? 0) < Number(shared.severity)) return false;
    return true;
  }

  function renderRows(freshIds = new Set()) {
    const since = sinceFor(shared.window);
    if (since) state.items = state.items.filter((i) => parseTime(i.time) >= since);
    const rows = state.items.filter(visible);
    clear(tbody);
    for (const item of rows) {
      const opId = item.operation_id;
      const linkable = opId && item.type !== "metric";
      const tr = h("tr", {
        tabindex: "0", "data-testid": "item-row",
        class: [item.success === false || item.type === "exception" || (item.severity ?? 0) >= 3 ? "row-bad" : "",
          freshIds.has(item.id) ? "row-new" : "", state.selectedId === item.id ? "row-selected" : ""].join(" ").trim() || null,
        dataset: { itemId: item.id, operationId: opId || null, type: item.type },
        title: linkable ? "Open the end-to-end transaction" : "Show details",
        onclick: () => open(item, linkable),
        onkeydown: (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); open(item, linkable); } },
      }, kind.columns.map(([, cell, cls]) => h("td", { class: cls || null }, cell(item))));
      tbody.append(tr);
    }
    const filtered = isFiltered();
    filterBar.querySelector("[data-testid=clear-filters]").hidden = !filtered;
    empty.hidden = rows.length > 0;
    table.hidden = rows.length === 0;
    fill(empty,
      h("p", { class: "empty-title" }, state.loading ? "Loading…" : `No ${kind.title.toLowerCase()} ${filtered ? "match these filters" : "yet"}.`),
      !state.loading && !filtered
        ? h("p", {}, "Point your app at the connection string above; items appear here within seconds.")
        : null,
      !state.loading && filtered
        ? h("button", { type: "button", class: "btn", "data-testid": "empty-clear-filters", onclick: () => clearFilters() }, "Clear filters")
        : null);
    summary.textContent = rows.length ? `${rows.length}${state.exhausted ? "" : "+"} item${rows.length === 1 ? "" : "s"}, newest first` : "";
    moreBtn.hidden = state.exhausted || rows.length === 0;
  }

  function open(item, linkable) {
    if (linkable) {
      location.hash = `#/operation/${encodeURIComponent(item.operation_id)}?item=${item.id}`;
      return;
    }
    state.selectedId = item.id;
    fill(drawer, renderDetails(item, { onClose: closeDrawer }));
    drawer.hidden = false;
    renderRows();
  }

  function closeDrawer() {
    drawer.hidden = true;
    clear(drawer);
    state.selectedId = null;
    renderRows();
  }

  async function reload() {
    state.loading = true;
    state.items = [];
    state.maxId = 0;
    renderRows();
    const myToken = (state.token = {});
    try {
      const res = await api.items(query());
      if (state.token !== myToken) return;
      state.items = sortItems(res.items);
      state.maxId = Math.max(0, ...res.items.map((i) => i.id));
      state.exhausted = res.items.length < PAGE;
      app.setError(null);
    } catch (err) {
      app.setError(err.message);
    } finally {
      if (state.token === myToken) {
        state.loading = false;
        renderRows();
      }
    }
  }

  async function loadMore() {
    const res = await api.items(query({ offset: state.items.length }));
    const seen = new Set(state.items.map((i) => i.id));
    state.items = sortItems(state.items.concat(res.items.filter((i) => !seen.has(i.id))));
    state.exhausted = res.items.length < PAGE;
    renderRows();
  }

  async function refresh() {
    if (state.loading) return;
    const myToken = state.token;
    const res = await api.items(query({ after_id: state.maxId, limit: 1000 }));
    if (state.token !== myToken || app.paused) return; // paused meanwhile: show nothing new
    if (!res.items.length) {
      if (shared.window !== "all") renderRows(); // items age out of the window
      return;
    }
    const seen = new Set(state.items.map((i) => i.id));
    const fresh = res.items.filter((i) => !seen.has(i.id));
    state.maxId = Math.max(state.maxId, ...res.items.map((i) => i.id));
    state.items = sortItems(fresh.concat(state.items)).slice(0, MAX_ROWS);
    renderRows(new Set(fresh.map((i) => i.id)));
  }

  function fillRoles(roles) {
    const current = shared.role;
    fill(roleSelect, h("option", { value: "" }, "All roles"),
      roles.map((r) => h("option", { value: r.role ?? "" }, r.role || "(no role)")));
    if (current && !roles.some((r) => r.role === current)) roleSelect.append(h("option", { value: current }, current));
    roleSelect.value = current;
  }

  const onFilter = () => {
    shared.role = roleSelect.value;
    shared.window = windowSelect.value;
    shared.success = kind.hasSuccess ? successSelect.value : shared.success;
    shared.severity = severitySelect.value;
    shared.q = textInput.value.trim();
    syncHash();
    reload();
  };
  for (const control of [roleSelect, windowSelect, successSelect]) control.addEventListener("change", onFilter);
  severitySelect.addEventListener("change", () => { shared.severity = severitySelect.value; syncHash(); renderRows(); });
  textInput.addEventListener("input", debounce(onFilter, 250));

  const onKey = (e) => { if (e.key === "Escape" && !drawer.hidden) closeDrawer(); };
  document.addEventListener("keydown", onKey);

  fillRoles(app.roles);
  syncHash();
  reload();

  return {
    el,
    refresh,
    reload,
    onRoles: fillRoles,
    destroy: () => document.removeEventListener("keydown", onKey),
  };
}
