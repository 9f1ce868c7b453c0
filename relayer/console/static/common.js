// Shared helpers of the console's pages. Data from the API is only ever put into the
// page as text (textContent, never innerHTML): token names, investor ids and revert
// reasons come from chains and users.

export const state = { actions: false, csrf: null };

export async function api(path, options = {}) {
  const response = await fetch(path, { headers: { Accept: "application/json" }, ...options });
  let doc;
  try {
    doc = await response.json();
  } catch {
    throw new Error(`${path}: HTTP ${response.status}`);
  }
  if (!doc.ok) throw new Error(doc.error ? doc.error.message : `${path}: HTTP ${response.status}`);
  return doc.data;
}

export async function loadSession() {
  const s = await api("/api/session");
  state.actions = s.actions;
  state.csrf = s.csrf;
  const box = document.getElementById("token-box");
  if (box) box.hidden = !state.actions;
  const input = document.getElementById("token");
  if (input) {
    input.value = sessionStorage.getItem("stbridge-token") || "";
    input.addEventListener("change", () => sessionStorage.setItem("stbridge-token", input.value));
  }
  return s;
}

// POST an action with the operator's bearer token and the page's CSRF token.
export async function act(path) {
  const token = sessionStorage.getItem("stbridge-token") || "";
  if (!token) throw new Error("enter the operator token first");
  return api(path, {
    method: "POST",
    headers: {
      Accept: "application/json",
      Authorization: `Bearer ${token}`,
      "X-CSRF-Token": state.csrf,
    },
  });
}

// An element with attributes and text children (strings become text nodes).
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// A table: columns [[heading, row => cell]], a cell being text, a Node, or null.
export function table(caption, columns, rows, rowClass = () => null) {
  const head = el("tr", {}, ...columns.map(([h]) => el("th", { scope: "col" }, h)));
  const body = rows.map((row) =>
    el("tr", { class: rowClass(row) }, ...columns.map(([, cell]) => el("td", {}, cell(row)))),
  );
  if (!rows.length) body.push(el("tr", {}, el("td", { colspan: columns.length }, "none")));
  return el("table", {}, el("caption", {}, caption), el("thead", {}, head), el("tbody", {}, ...body));
}

export function fill(id, ...nodes) {
  const target = document.getElementById(id);
  target.replaceChildren(...nodes);
  return target;
}

export function when(seconds) {
  if (!seconds) return "";
  return new Date(seconds * 1000).toISOString().replace("T", " ").slice(0, 19);
}

export function age(seconds) {
  if (seconds === null || seconds === undefined) return "";
  if (seconds < 90) return `${seconds.toFixed(1)} s`;
  if (seconds < 5400) return `${(seconds / 60).toFixed(1)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

export function units(text, decimals) {
  // a decimal string of base units as whole tokens, exactly (BigInt)
  const value = BigInt(text);
  const base = 10n ** BigInt(decimals);
  const sign = value < 0n ? "-" : "";
  const abs = value < 0n ? -value : value;
  const fraction = (abs % base).toString().padStart(decimals, "0").replace(/0+$/, "");
  return `${sign}${abs / base}${fraction ? "." + fraction : ""}`;
}

export function short(hex) {
  return hex && hex.length > 14 ? `${hex.slice(0, 10)}…${hex.slice(-4)}` : hex || "";
}

export function say(id, text, bad = false) {
  const node = document.getElementById(id);
  node.textContent = text;
  node.classList.toggle("bad", bad);
}
