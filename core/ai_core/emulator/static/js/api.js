// The emulator's JSON API (routes and shapes: core/emulator/__init__.py).

export class ApiError extends Error {}

async function request(method, path, params, json) {
  const url = new URL(path, location.origin);
  for (const [k, v] of Object.entries(params || {})) {
    if (v !== null && v !== undefined && v !== "") url.searchParams.set(k, v);
  }
  let response;
  try {
    const headers = { Accept: "application/json" };
    // The emulator refuses a state-changing request without this header or a JSON body: a
    // cross-site form can send neither (README, "The local emulator").
    if (method !== "GET") headers["X-Requested-With"] = "ai-emulator-viewer";
    const init = { method, headers, cache: "no-store" };
    if (json !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(json);
    }
    response = await fetch(url, init);
  } catch (err) {
    throw new ApiError(`The emulator at ${location.origin} is not reachable (${err.message}).`);
  }
  let body = null;
  try { body = await response.json(); } catch { /* not JSON */ }
  if (!response.ok) throw new ApiError((body && body.error) || `${method} ${url.pathname}: HTTP ${response.status}`);
  return body;
}

export const api = {
  items: (params) => request("GET", "/api/items", params),
  item: (id) => request("GET", `/api/items/${encodeURIComponent(id)}`),
  operation: (id) => request("GET", `/api/operations/${encodeURIComponent(id)}`),
  roles: () => request("GET", "/api/roles"),
  map: () => request("GET", "/api/map"),
  rejected: (params) => request("GET", "/api/rejected", params),
  stats: () => request("GET", "/api/stats"),
  performance: (params) => request("GET", "/api/performance", params),
  failures: (params) => request("GET", "/api/failures", params),
  metrics: (params) => request("GET", "/api/metrics", params),
  clear: () => request("DELETE", "/api/items"),
  live: (params) => request("GET", "/api/live", params),
  liveSubscribe: () => request("POST", "/api/live/subscribe"),
  liveFilter: (text) => request("POST", "/api/live/filter", null, { filter: text }),
  liveCharts: (text) => request("POST", "/api/live/charts", null, { charts: text }),
};

export const EMULATOR_IKEY = "00000000-0000-0000-0000-000000000000";

export function connectionString() {
  // The same string as ai_core.emulator.connection_string(): ingestion and Live Metrics here.
  return `InstrumentationKey=${EMULATOR_IKEY};IngestionEndpoint=${location.origin};LiveEndpoint=${location.origin}/`;
}
