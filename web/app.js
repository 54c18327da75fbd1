// mamad dashboard: plain script, no framework, no build step, nothing from outside mamad.
// The read token lives in sessionStorage and goes only into the Authorization header;
// images are fetched with that header and shown from blob: URLs (the CSP allows img-src
// 'self' blob:), so the token never appears in a URL.
"use strict";

const VIEWS = ["L-CC", "L-MLO", "R-CC", "R-MLO"];
const state = { token: null, studies: new Map(), since: 0, timer: null, open: null, blobs: [] };

const $ = (sel) => document.querySelector(sel);

function show(id) {
  for (const v of ["#signin-view", "#worklist-view", "#study-view"]) $(v).classList.toggle("hidden", v !== id);
  $("#signout").classList.toggle("hidden", id === "#signin-view");
}

async function api(path, accept) {
  const headers = { Authorization: "Bearer " + state.token };
  if (accept) headers.Accept = accept;
  const r = await fetch(path, { headers, cache: "no-store" });
  if (r.status === 401) {
    signOut("The token was refused.");
    throw new Error("unauthorized");
  }
  return r;
}

async function json(path) {
  const r = await api(path);
  if (!r.ok) throw new Error(path + ": " + r.status);
  return r.json();
}

// The study-level values the worklist shows, from the latest result.
function summary(doc) {
  const res = doc.latest_result && doc.latest_result.result;
  const t = res && res.study && res.study.tasks;
  const present = VIEWS.filter((k) => doc.views && doc.views[k]).length;
  return {
    density: t && t.density ? t.density.prediction : "",
    birads: t && t.birads ? t.birads.prediction : "",
    malignancy: t && t.malignancy ? t.malignancy.probs.cancer : null,
    views: present,
  };
}

function cell(tr, text, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  tr.appendChild(td);
  return td;
}

function fmt(p) {
  return p === null || p === undefined ? "" : p.toFixed(3);
}

function renderWorklist() {
  const filter = $("#state-filter").value;
  const sort = $("#sort").value;
  let rows = [...state.studies.values()].filter((d) => !filter || d.state === filter);
  if (sort === "suspicion") {
    rows.sort((a, b) => (summary(b).malignancy ?? -1) - (summary(a).malignancy ?? -1) || b.id - a.id);
  } else {
    rows.sort((a, b) => b.id - a.id);
  }
  const tbody = $("#worklist tbody");
  tbody.replaceChildren();
  for (const d of rows) {
    const s = summary(d);
    const tr = document.createElement("tr");
    tr.dataset.uid = d.uid;
    cell(tr, (d.first_received || "").replace("T", " ").slice(0, 19));
    cell(tr, d.patient_id);
    cell(tr, d.accession);
    cell(tr, d.state, "state state-" + d.state);
    cell(tr, s.views + "/4", "views");
    cell(tr, s.density, "density");
    cell(tr, s.birads, "birads");
    cell(tr, fmt(s.malignancy), "malignancy num");
    tr.addEventListener("click", () => openStudy(d.uid));
    tbody.appendChild(tr);
  }
  $("#empty").classList.toggle("hidden", rows.length > 0);
}

async function refreshStudy(uid) {
  const r = await api("/api/v1/studies/" + encodeURIComponent(uid));
  if (r.status === 404) state.studies.delete(uid);
  else if (r.ok) state.studies.set(uid, await r.json());
}

async function loadAll() {
  // The feed's current end first (an empty page past the end answers it), then the list:
  // whatever changes in between is polled again, nothing is missed.
  const end = await json("/api/v1/changes?since=9223372036854775807&limit=1");
  const list = await json("/api/v1/studies?limit=200");
  await Promise.all(list.studies.map((s) => refreshStudy(s.uid)));
  state.since = end.last;
  renderWorklist();
}

// Live updates: poll the changes feed; refetch each study it names.
async function poll() {
  try {
    let done = false;
    while (!done) {
      const ch = await json("/api/v1/changes?since=" + state.since + "&limit=200");
      const uids = new Set(ch.changes.map((c) => c.study));
      await Promise.all([...uids].map(refreshStudy));
      state.since = ch.last;
      done = ch.done;
      if (uids.size) {
        renderWorklist();
        if (state.open && uids.has(state.open)) openStudy(state.open, true);
      }
    }
    $("#live").textContent = "live, updated " + new Date().toLocaleTimeString();
  } catch (e) {
    if (!state.token) return;
    $("#live").textContent = "connection lost, retrying";
  }
  if (state.token) state.timer = setTimeout(poll, 1500);
}

function scoreRow(tbody, name, tasks) {
  const tr = document.createElement("tr");
  tr.dataset.breast = name;
  cell(tr, name);
  const t = tasks || {};
  cell(tr, t.density ? t.density.prediction : "", "density").dataset.task = "density";
  cell(tr, t.birads ? t.birads.prediction : "", "birads").dataset.task = "birads";
  const m = cell(tr, t.malignancy ? fmt(t.malignancy.probs.cancer) : "", "malignancy num");
  m.dataset.task = "malignancy";
  if (t.malignancy) m.dataset.value = String(t.malignancy.probs.cancer);
  tbody.appendChild(tr);
}

async function openStudy(uid, refresh) {
  state.open = uid;
  const d = state.studies.get(uid);
  if (!d) return;
  show("#study-view");
  $("#study-title").textContent = (d.patient_id || "?") + "  " + (d.accession || "") + "  " + uid;
  $("#study-state").textContent = "state " + d.state + ", result version " + d.result_version;
  const res = d.latest_result && d.latest_result.result;
  $("#model-warning").textContent = res && res.warnings && res.warnings.length ? res.warnings.join("; ") : "";
  const scores = $("#scores tbody");
  scores.replaceChildren();
  if (res) {
    for (const b of ["L", "R"]) if (res.breasts[b]) scoreRow(scores, b, res.breasts[b].tasks);
    scoreRow(scores, "study", res.study.tasks);
  }
  const ob = $("#outbox tbody");
  ob.replaceChildren();
  for (const o of d.outbox || []) {
    const tr = document.createElement("tr");
    for (const v of [o.version, o.object, o.destination]) cell(tr, String(v));
    cell(tr, o.state, "state-" + o.state);
    cell(tr, String(o.attempts));
    cell(tr, o.last_error);
    ob.appendChild(tr);
  }
  const versions = await json("/api/v1/studies/" + encodeURIComponent(uid) + "/results");
  const vt = $("#versions tbody");
  vt.replaceChildren();
  for (const r of versions.results.slice().reverse()) {
    const tr = document.createElement("tr");
    cell(tr, String(r.version));
    cell(tr, r.model_id);
    cell(tr, r.created);
    vt.appendChild(tr);
  }
  if (refresh && d.result_version === state.thumbsVersion) return;
  state.thumbsVersion = d.result_version;
  for (const u of state.blobs) URL.revokeObjectURL(u);
  state.blobs = [];
  for (const img of document.querySelectorAll("img.thumb")) {
    img.removeAttribute("src");
    img.classList.remove("loaded");
    if (!d.result_version) continue;
    const r = await api("/api/v1/studies/" + encodeURIComponent(uid) + "/thumbnail?view=" + img.dataset.view);
    if (!r.ok) continue;
    const url = URL.createObjectURL(await r.blob());
    state.blobs.push(url);
    img.addEventListener("load", () => img.classList.add("loaded"), { once: true });
    img.src = url;
  }
}

function signOut(message) {
  state.token = null;
  sessionStorage.removeItem("mamad-token");
  clearTimeout(state.timer);
  state.studies.clear();
  $("#signin-error").textContent = message || "";
  show("#signin-view");
}

async function signIn(token) {
  state.token = token;
  const r = await fetch("/api/v1/studies?limit=1", { headers: { Authorization: "Bearer " + token }, cache: "no-store" });
  if (!r.ok) {
    signOut(r.status === 401 ? "The token was refused." : "mamad answered " + r.status);
    return;
  }
  sessionStorage.setItem("mamad-token", token);
  $("#signin-error").textContent = "";
  show("#worklist-view");
  await loadAll();
  poll();
}

document.addEventListener("DOMContentLoaded", () => {
  $("#signin-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const t = $("#token").value.trim();
    $("#token").value = "";
    signIn(t);
  });
  $("#signout").addEventListener("click", () => signOut(""));
  $("#back").addEventListener("click", () => {
    state.open = null;
    show("#worklist-view");
    renderWorklist();
  });
  $("#state-filter").addEventListener("change", renderWorklist);
  $("#sort").addEventListener("change", renderWorklist);
  const saved = sessionStorage.getItem("mamad-token");
  if (saved) signIn(saved);
  else show("#signin-view");
});
