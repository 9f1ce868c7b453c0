// The operator's view: lanes, charts, chains, keys, failures, messages, validators, DvP.
import uPlot from "./vendor/uPlot.esm.js";
import { act, age, api, el, fill, loadSession, say, short, state, table, when } from "./common.js";

const QUERY = new URLSearchParams(location.search);
const REFRESH = Number(QUERY.get("refresh") || 5) * 1000;
const COLORS = ["#1f5fbf", "#c0392b", "#27823b", "#8e44ad", "#d35400", "#16a085"];
const charts = {};

function chart(id, lanes, values, points = false) {
  const target = document.getElementById(id);
  const xs = lanes.length ? lanes[0].history.t : [];
  const data = [xs, ...lanes.map(values)];
  const width = Math.max(280, target.clientWidth || 360);
  const key = `${id}:${lanes.map((l) => l.lane).join(",")}`;
  if (charts[id] && charts[id].key === key) {
    charts[id].plot.setData(data);
    return;
  }
  if (charts[id]) charts[id].plot.destroy();
  const series = [{}, ...lanes.map((l, i) => ({ label: l.lane, stroke: COLORS[i % COLORS.length], width: 2, spanGaps: true, points: { show: points, size: 6, fill: COLORS[i % COLORS.length] } }))];
  const plot = new uPlot({ width, height: 180, series, scales: { x: { time: true } } }, data, target);
  charts[id] = { key, plot };
}

function laneRows(lanes) {
  return table("Every lane", [
    ["lane", (l) => l.lane],
    ["delivered", (l) => l.counts.delivered],
    ["backlog", (l) => l.backlog],
    ["oldest waiting", (l) => age(l.oldest_age)],
    ["failed", (l) => l.counts.failed],
    ["refused", (l) => l.counts.refused],
    ["per min (hour)", (l) => l.last_hour.per_minute],
    ["latency avg (hour)", (l) => age(l.last_hour.latency_avg)],
    ["delivered (day)", (l) => l.last_day.delivered],
    ["halted", (l) => l.halted || ""],
  ], lanes, (l) => (l.halted ? "bad" : null));
}

async function refreshLanes() {
  const lanes = await api(`/api/lanes?window=${document.getElementById("window").value}`);
  chart("chart-throughput", lanes, (l) => l.history.delivered);
  chart("chart-backlog", lanes, (l) => l.history.backlog);
  chart("chart-latency", lanes, (l) => l.history.latency_avg, true);
  fill("lanes", laneRows(lanes));
}

async function refreshChains() {
  const [chains, keys] = await Promise.all([api("/api/chains"), api("/api/keys")]);
  fill("chains", table("Chains", [
    ["chain", (c) => c.name],
    ["id", (c) => c.chain_id],
    ["reachable", (c) => (c.reachable ? "yes" : `no: ${c.error}`)],
    ["head", (c) => c.head ?? ""],
    ["indexed to", (c) => c.cursor ?? ""],
    ["halted", (c) => c.halted || ""],
  ], chains, (c) => (!c.reachable || c.halted ? "bad" : null)));
  fill("keys", table("Relayer key balances", [
    ["chain", (k) => k.chain],
    ["address", (k) => k.address],
    ["balance (ETH)", (k) => (k.balance_wei === null ? `unknown: ${k.error}` : (Number(k.balance_wei) / 1e18).toFixed(4))],
    ["minimum (ETH)", (k) => Number(k.minimum_wei) / 1e18],
  ], keys, (k) => (k.low !== false ? "bad" : null)));
}

function retryButton(m) {
  if (!state.actions) return null;
  return el("button", {
    type: "button",
    class: "retry",
    "aria-label": `Retry message ${m.id}`,
    onclick: async () => {
      try {
        await act(`/api/messages/${m.id}/retry`);
        say("action-result", `message ${short(m.id)} will be retried now`);
        await refreshFailed();
      } catch (error) {
        say("action-result", `retry refused: ${error.message}`, true);
      }
    },
  }, "Retry");
}

function messageLink(m) {
  return el("a", { href: `#${m.id}`, onclick: (e) => { e.preventDefault(); showLife(m.id); } }, short(m.id));
}

async function refreshFailed() {
  const [failed, refused] = await Promise.all([
    api("/api/messages?status=failed&limit=50"),
    api("/api/messages?status=refused&limit=50"),
  ]);
  fill("failed", table("Messages that failed or were refused, with the reason", [
    ["id", messageLink],
    ["lane", (m) => m.lane],
    ["status", (m) => m.status],
    ["attempts", (m) => m.attempts],
    ["reason", (m) => m.last_error || ""],
    ["next attempt", (m) => (m.next_attempt_at && m.next_attempt_at < 1e17 ? when(m.next_attempt_at) : "")],
    ["action", retryButton],
  ], [...failed, ...refused], () => "bad"));
}

async function search(event) {
  event?.preventDefault();
  const params = new URLSearchParams();
  for (const name of ["id", "wallet", "lane", "status"]) {
    const value = document.getElementById(`q-${name}`).value.trim();
    if (value) params.set(name, value);
  }
  try {
    const found = await api(`/api/messages?${params}`);
    say("search-error", "");
    fill("messages", table(`${found.length} message(s), newest first`, [
      ["id", messageLink],
      ["lane", (m) => m.lane],
      ["nonce", (m) => m.nonce],
      ["status", (m) => m.status],
      ["dispatched", (m) => when(m.dispatched_at)],
      ["delivered", (m) => when(m.delivered_at)],
      ["last error", (m) => m.last_error || ""],
    ], found));
  } catch (error) {
    say("search-error", error.message, true);
  }
}

async function showLife(id) {
  const m = await api(`/api/messages/${id}`);
  const steps = m.life.map((s) => {
    const { step, ...rest } = s;
    const details = Object.entries(rest)
      .filter(([, v]) => v !== null && v !== undefined)
      .map(([k, v]) => `${k}: ${k === "at" || k === "sent_at" ? when(v) : Array.isArray(v) ? v.join(", ") : v}`);
    return el("li", {}, el("strong", {}, step), " ", details.join(" · "));
  });
  fill("life", el("h3", {}, `Message ${m.id} (${m.lane}, ${m.status})`), el("ol", { class: "life" }, ...steps));
}

async function refreshRest() {
  const [validators, locks, sections] = await Promise.all([
    api("/api/validators"), api("/api/dvp"), api("/api/sections"),
  ]);
  const origins = validators.length ? Object.keys(validators[0].origins) : [];
  fill("validators", table("Latest checkpoint each validator signed, per origin (tree size)", [
    ["validator", (v) => v.address],
    ...origins.map((o) => [o, (v) => `${v.origins[o].signed_index ?? "none"} (${v.origins[o].tree_count ?? "?"})`]),
  ], validators));
  fill("dvp", table("Locks, soonest expiry first", [
    ["chain", (l) => l.chain],
    ["lock", (l) => short(l.lock_id)],
    ["state", (l) => l.state],
    ["amount", (l) => l.amount],
    ["receiver", (l) => l.receiver],
    ["expiry", (l) => when(l.expiry)],
    ["last error", (l) => l.last_error || ""],
  ], locks));
  document.getElementById("more").hidden = sections.length === 0;
  if (sections.length) {
    const parts = await Promise.all(sections.map(async (name) => [name, await api(`/api/sections/${name}`)]));
    fill("sections", ...parts.map(([name, data]) => el("div", {}, el("h3", {}, name), el("pre", {}, JSON.stringify(data, null, 2)))));
  }
}

async function refreshStatus() {
  const s = await api("/api/status");
  document.getElementById("network").textContent = s.network;
  say("ready", s.ready ? "relayer ready" : `not ready: ${s.reasons.join("; ")}`, !s.ready);
}

async function refresh() {
  const results = await Promise.allSettled([refreshStatus(), refreshLanes(), refreshChains(), refreshFailed(), refreshRest()]);
  const failed = results.find((r) => r.status === "rejected");
  if (failed) say("ready", `console: ${failed.reason.message}`, true);
  document.body.dataset.loaded = String(Number(document.body.dataset.loaded || 0) + 1);
}

async function main() {
  await loadSession();
  if (QUERY.get("window")) document.getElementById("window").value = QUERY.get("window");
  document.getElementById("search").addEventListener("submit", search);
  document.getElementById("window").addEventListener("change", refreshLanes);
  if (location.hash.length > 3) showLife(location.hash.slice(1));
  await refresh();
  await search();
  if (REFRESH > 0) setInterval(refresh, REFRESH);
}

main();
