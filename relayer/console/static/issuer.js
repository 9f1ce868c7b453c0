// The issuer's view: the cap table across chains, reconciliation, investors, a holder's history.
import { act, api, el, fill, loadSession, say, short, state, table, units, when } from "./common.js";

let decimals = 18;

function walletButton(wallet) {
  return el("button", { type: "button", class: "link", "aria-label": `History of ${wallet}`, onclick: () => showHistory(wallet) }, wallet);
}

async function showCaptable(event) {
  event?.preventDefault();
  const params = new URLSearchParams();
  const token = document.getElementById("token-symbol").value;
  const at = document.getElementById("at").value.trim();
  if (token) params.set("token", token);
  if (at) params.set("at", at);
  say("reconciled", "reading every chain…");
  try {
    const t = await api(`/api/captable?${params}`);
    decimals = t.decimals;
    const chains = Object.keys(t.supplies);
    say("reconciled", t.reconciled
      ? `${t.token}: reconciled at ${t.cut.label}; issued ${units(t.issued, decimals)}, held ${units(t.held, decimals)}, in flight ${units(t.in_flight, decimals)}`
      : `${t.token}: does NOT reconcile at ${t.cut.label}`, !t.reconciled);
    fill("problems", ...t.problems.map((p) => el("li", { class: "bad" }, p)), ...t.notes.map((n) => el("li", {}, n)));
    fill("captable", table(`${t.holder_count} holder(s) of ${t.token}`, [
      ["wallet", (h) => walletButton(h.wallet)],
      ["status", (h) => h.status],
      ...chains.map((c) => [c, (h) => units(h.balances[c] || "0", decimals)]),
      ["total", (h) => units(h.total, decimals)],
    ], t.holders, (h) => (h.status !== "verified" ? "warn" : null)));
    fill("custodians", table("Custodians (not holders)", [
      ["chain", (c) => c.chain], ["role", (c) => c.role], ["address", (c) => c.address],
      ["balance", (c) => units(c.balance, decimals)],
    ], t.custodians));
  } catch (error) {
    say("reconciled", error.message, true);
  }
}

async function runAudit() {
  say("audit-result", "auditing…");
  try {
    const r = await api("/api/audit");
    const problems = r.problems || [];
    say("audit-result", problems.length ? `${problems.length} problem(s)` : "no violations", problems.length > 0);
    fill("audit-problems", ...problems.map((p) => el("li", { class: "bad" }, p)));
  } catch (error) {
    say("audit-result", error.message, true);
  }
}

function resyncButton(inv) {
  if (!state.actions) return null;
  return el("button", {
    type: "button", class: "resync", "aria-label": `Push the record of ${inv.wallet} to every mirror again`,
    onclick: async () => {
      try {
        const done = await act(`/api/investors/${inv.wallet}/resync`);
        say("action-result", `record of ${inv.wallet} pushed again in ${short(done.tx)}`);
      } catch (error) {
        say("action-result", `resync refused: ${error.message}`, true);
      }
    },
  }, "Resync");
}

async function showInvestors() {
  const investors = await api("/api/investors");
  const chains = investors.length ? investors[0].mirrors.map((m) => m.chain) : [];
  fill("investors", table(`${investors.length} investor(s) on the home registry`, [
    ["wallet", (i) => walletButton(i.wallet)],
    ["investor id", (i) => el("span", { class: "investor-id" }, i.home.investor_id)],
    ["country", (i) => i.home.country],
    ["status", (i) => i.status],
    ["version", (i) => i.home.version],
    ...chains.map((c) => [`mirror ${c}`, (i) => i.mirrors.find((m) => m.chain === c).state]),
    ["action", resyncButton],
  ], investors, (i) => (i.status !== "verified" || i.mirrors.some((m) => m.state !== "in sync") ? "warn" : null)));
}

async function showHistory(wallet) {
  fill("history", el("p", {}, `reading ${wallet}…`));
  try {
    const inv = await api(`/api/investors/${wallet}`);
    document.getElementById("history-hint").textContent = `${wallet}: ${inv.status}, investor id ${inv.home.investor_id}`;
    fill("history", table(`Transfers from or to ${wallet}`, [
      ["chain", (t) => t.chain], ["token", (t) => t.token], ["block", (t) => t.block],
      ["from", (t) => t.from], ["to", (t) => t.to], ["amount", (t) => units(t.amount, decimals)],
      ["tx", (t) => short(t.tx)],
    ], inv.history));
  } catch (error) {
    fill("history", el("p", { class: "bad" }, error.message));
  }
}

async function main() {
  await loadSession();
  const s = await api("/api/status");
  document.getElementById("network").textContent = s.network;
  say("ready", s.ready ? "relayer ready" : `not ready: ${s.reasons.join("; ")}`, !s.ready);
  fill("token-symbol", ...s.tokens.map((t) => el("option", { value: t }, t)));
  document.getElementById("cut").addEventListener("submit", showCaptable);
  document.getElementById("run-audit").addEventListener("click", runAudit);
  await Promise.allSettled([showCaptable(), showInvestors().catch((e) => fill("investors", el("p", { class: "bad" }, e.message)))]);
  document.body.dataset.loaded = "1";
}

main();
