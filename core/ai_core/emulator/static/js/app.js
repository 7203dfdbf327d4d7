// The viewer shell: header (connection string, stats, pause, clear), hash routing, polling.
//
// Routes: #/requests | #/dependencies | #/exceptions | #/traces | #/events | #/metrics
// (filters in the query: role, window, success, severity, q), #/operation/<operation id>?item=<id>,
// #/map, #/rejected, #/live?role=<role> (Live Metrics: subscribes while it is open).

import { api, connectionString } from "./api.js";
import { KINDS, listView } from "./lists.js";
import { liveView } from "./live.js";
import { mapView } from "./map.js";
import { metricChartsView } from "./metriccharts.js";
import { overviewView } from "./overview.js";
import { rejectedView } from "./rejected.js";
import { transactionView } from "./transaction.js";
import { clear, fill, copyText, fmtClock, fmtNumber, h } from "./util.js";

const POLL_MS = 2000;
const $ = (id) => document.getElementById(id);

const app = {
  roles: [],
  paused: localStorage.getItem("ai-emulator-paused") === "1",
  view: null,
  route: "",
  previousRoute: "",
  cameFromList: false,
  lastStored: null,
  rolesSignature: "",
  setError(message) {
    const banner = $("error-banner");
    banner.hidden = !message;
    banner.textContent = message || "";
  },
};
window.aiViewer = app; // handy in the console and for tests

function parseHash() {
  const raw = location.hash.replace(/^#/, "") || "/requests";
  const q = raw.indexOf("?");
  return { path: q < 0 ? raw : raw.slice(0, q), params: new URLSearchParams(q < 0 ? "" : raw.slice(q + 1)) };
}

function resolve(path, params) {
  let m;
  if ((m = /^\/(\w+)$/.exec(path)) && KINDS[m[1]]) return { key: m[1], make: () => listView(m[1], params, app) };
  if ((m = /^\/operation\/(.+)$/.exec(path))) {
    const id = decodeURIComponent(m[1]);
    return { key: "operation", make: () => transactionView(id, params, app) };
  }
  if (path === "/map") return { key: "map", make: () => mapView(params, app) };
  if (path === "/performance" || path === "/failures") {
    const mode = path.slice(1);
    return { key: mode, make: () => overviewView(mode, params, app) };
  }
  if (path === "/charts") return { key: "charts", make: () => metricChartsView(params, app) };
  if (path === "/rejected") return { key: "rejected", make: () => rejectedView(params, app) };
  if (path === "/live") return { key: "live", make: () => liveView(params, app) };
  return null;
}

function mount() {
  const { path, params } = parseHash();
  const found = resolve(path, params);
  if (!found) {
    location.replace("#/requests");
    return;
  }
  app.cameFromList = Boolean(KINDS[(app.route.match(/^\/(\w+)$/) || [])[1]]) && found.key === "operation";
  app.previousRoute = app.route;
  app.route = path;
  if (app.view && app.view.destroy) app.view.destroy();
  app.setError(null);
  app.view = found.make();
  const main = $("main");
  fill(main, app.view.el);
  for (const a of document.querySelectorAll(".tabs a")) {
    const active = a.dataset.view === found.key;
    if (active) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  document.title = `${viewTitle(found.key)} · Application Insights emulator`;
}

function viewTitle(key) {
  if (KINDS[key]) return KINDS[key].title;
  return { operation: "Transaction", map: "Application map", rejected: "Rejected items", performance: "Performance",
    failures: "Failures", charts: "Metric charts", live: "Live metrics" }[key] || "Viewer";
}

function renderStats(stats) {
  const r = stats.received;
  const st = stats.stored;
  const el = $("stats");
  const stat = (label, value, cls, testid) => h("span", { class: `stat ${cls || ""}`, "data-testid": testid },
    h("span", { class: "stat-value" }, fmtNumber(value)), h("span", { class: "stat-label" }, label));
  fill(el, 
    stat("stored", st.items, "", "stat-stored"),
    stat("accepted", r.items_accepted, "", "stat-accepted"),
    stat("rejected", r.items_rejected, r.items_rejected ? "stat-bad" : "", "stat-rejected"),
    stat("batches", r.batches_received, "", "stat-batches"),
    r.batches_faulted ? stat("faulted batches", r.batches_faulted, "stat-warn", "stat-faulted") : null,
    stats.faults_pending ? stat("faults pending", stats.faults_pending, "stat-warn", "stat-faults-pending") : null,
    h("span", { class: "stat stat-uptime" }, `up ${fmtUptime(r.uptime_s)}`));
  for (const badge of document.querySelectorAll(".tabs [data-count]")) {
    const type = badge.dataset.count;
    const n = type === "rejected" ? st.rejected : (st.by_type || {})[type] || 0;
    badge.textContent = n ? fmtNumber(n) : "";
  }
}

function fmtUptime(seconds) {
  const s = Math.floor(seconds || 0);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
}

async function refreshStats() {
  const stats = await api.stats();
  renderStats(stats);
  const stored = stats.stored.items + stats.stored.rejected;
  const wasCleared = app.lastStored !== null && stored < app.lastStored;
  app.lastStored = stored;
  return wasCleared;
}

async function refreshRoles() {
  const { roles } = await api.roles();
  const signature = JSON.stringify(roles.map((r) => r.role));
  if (signature === app.rolesSignature) return;
  app.rolesSignature = signature;
  app.roles = roles;
  if (app.view && app.view.onRoles) app.view.onRoles(roles);
}

let timer = null;
let inFlight = false;

async function tick() {
  clearTimeout(timer);
  if (!app.paused && !document.hidden && !inFlight) {
    inFlight = true;
    try {
      const before = app.lastStored;
      const cleared = await refreshStats();
      // Roles are a scan of every item: ask again only when something arrived or went.
      if (app.lastStored !== before) await refreshRoles();
      if (app.paused) {
        // paused while the stats were loading: leave the view as it is
      } else if (cleared) {
        mount(); // someone else cleared the store: start the view over
      } else if (app.view && app.view.refresh) {
        await app.view.refresh();
      }
      app.setError(null);
      if (!app.paused) $("live-status").textContent = `Live · ${fmtClock(Date.now()).slice(0, 8)}`;
    } catch (err) {
      app.setError(err.message);
      $("live-status").textContent = "Disconnected";
    } finally {
      inFlight = false;
    }
  }
  timer = setTimeout(tick, POLL_MS);
}

function setPaused(paused) {
  app.paused = paused;
  localStorage.setItem("ai-emulator-paused", paused ? "1" : "0");
  const btn = $("pause-toggle");
  btn.setAttribute("aria-pressed", paused ? "true" : "false");
  btn.textContent = paused ? "Resume" : "Pause";
  const live = $("live-status");
  live.classList.toggle("paused", paused);
  live.textContent = paused ? "Paused" : "Live";
  if (!paused) tick();
}

function init() {
  const cs = connectionString();
  $("conn-string").textContent = cs;
  $("conn-string").title = cs;
  $("copy-conn").addEventListener("click", (e) => copyText(cs, e.currentTarget));
  $("pause-toggle").addEventListener("click", () => setPaused(!app.paused));
  $("clear-button").addEventListener("click", async (e) => {
    const btn = e.currentTarget;
    if (btn.dataset.armed !== "1") {
      // Two clicks, no modal dialog: "Clear" then "Really clear?" within 4 s.
      btn.dataset.armed = "1";
      btn.textContent = "Really clear?";
      setTimeout(() => { btn.dataset.armed = ""; btn.textContent = "Clear"; }, 4000);
      return;
    }
    btn.dataset.armed = "";
    btn.textContent = "Clear";
    try {
      await api.clear();
      app.lastStored = 0;
      await refreshStats();
      mount();
    } catch (err) {
      app.setError(err.message);
    }
  });
  window.addEventListener("hashchange", mount);
  // The counts first, on their own: the shell already shows "Loading…", and a saved page or a
  // quick screenshot then has the numbers even before the view's data arrives.
  refreshStats().catch((err) => app.setError(err.message));
  document.addEventListener("visibilitychange", () => { if (!document.hidden) tick(); });
  setPaused(app.paused);
  mount(); // at once: the view fills its role filter when the roles arrive (onRoles)
  refreshRoles().catch(() => {}).finally(tick);
}

init();
