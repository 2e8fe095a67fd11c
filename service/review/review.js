"use strict";
(function () {
  const data = JSON.parse(document.getElementById("data").textContent);
  const a = data.analysis;
  const text = data.text;
  const claims = a.claims || [];
  const marks = {};
  (a.marks || []).forEach(function (m) { marks[m.claim_id] = m; });
  const flagsById = {};
  (a.flags || []).forEach(function (f) { flagsById[f.id] = f; });
  let active = -1;

  function el(tag, attrs, children) {
    const e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "class") e.className = attrs[k];
      else if (k === "text") e.textContent = attrs[k];
      else e.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) { if (c) e.appendChild(c); });
    return e;
  }
  function words(s) { return String(s || "").replace(/_/g, " "); }
  function apiKey() {
    const m = document.cookie.match(/(?:^|; )factdesk_key=([^;]*)/);
    return m ? decodeURIComponent(m[1]) : null;
  }
  function toast(msg) {
    const t = document.getElementById("status");
    t.textContent = msg; t.classList.add("show");
    setTimeout(function () { t.classList.remove("show"); }, 1800);
  }

  // Annotations: [start, end, kind, claim index or -1, flag id or null]
  const ann = [];
  claims.forEach(function (c, i) {
    (c.evidence || []).forEach(function (s) { ann.push([s.start, s.end, "ev", i, null]); });
    if (c.quote) ann.push([c.quote.start, c.quote.end, "quote", i, null]);
    const name = c.speaker && c.speaker.name;
    if (name) {
      // The speaker as written in the cited sentences (the first place it appears).
      const lower = name.toLowerCase();
      for (const s of c.evidence || []) {
        const at = text.slice(s.start, s.end).toLowerCase().indexOf(lower);
        if (at >= 0) { ann.push([s.start + at, s.start + at + name.length, "speaker", i, null]); break; }
      }
    }
  });
  (a.flags || []).forEach(function (f) {
    if (f.span) ann.push([f.span.start, f.span.end, "flagged", -1, f.id]);
  });

  function segments(start, end) {
    const cuts = new Set([start, end]);
    ann.forEach(function (x) {
      if (x[1] > start && x[0] < end) { cuts.add(Math.max(start, x[0])); cuts.add(Math.min(end, x[1])); }
    });
    const pts = Array.from(cuts).sort(function (p, q) { return p - q; });
    const out = [];
    for (let k = 0; k + 1 < pts.length; k++) {
      const s = pts[k], e = pts[k + 1];
      const on = ann.filter(function (x) { return x[0] <= s && x[1] >= e && x[1] > x[0]; });
      out.push([s, e, on]);
    }
    return out;
  }

  function renderArticle() {
    const art = document.getElementById("article");
    const paras = {};
    (a.sentences || []).forEach(function (s) {
      const p = paras[s.paragraph] || (paras[s.paragraph] = { start: s.start, end: s.end, ids: [] });
      p.start = Math.min(p.start, s.start); p.end = Math.max(p.end, s.end); p.ids.push(s.id);
    });
    const order = Object.keys(paras).map(Number).sort(function (x, y) { return x - y; });
    if (!order.length) art.appendChild(el("p", { class: "ptext", text: text }));
    order.forEach(function (n) {
      const p = paras[n];
      const margin = el("div", { class: "margin" });
      (a.flags || []).forEach(function (f) {
        const inPara = (f.sentence_ids || []).some(function (id) { return p.ids.indexOf(id) >= 0; }) ||
          (f.span && f.span.start >= p.start && f.span.start < p.end);
        if (inPara) {
          margin.appendChild(el("span", { class: "mflag", title: f.message, "data-flag": f.id,
            text: "⚑ " + words(f.type) + (f.span ? ": “" + f.span.text + "”" : "") }));
        }
      });
      const body = el("div", { class: "ptext" });
      segments(p.start, p.end).forEach(function (seg) {
        const kinds = new Set(seg[2].map(function (x) { return x[2]; }));
        const cl = seg[2].filter(function (x) { return x[3] >= 0; }).map(function (x) { return x[3]; });
        const span = el("span", { class: "seg " + Array.from(kinds).join(" "), text: text.slice(seg[0], seg[1]) });
        if (cl.length) {
          const uniq = Array.from(new Set(cl));
          span.setAttribute("data-claims", uniq.join(" "));
          span.title = uniq.map(function (i) { return claims[i].id + ": " + words(claims[i].verification.status); }).join("; ");
          span.addEventListener("click", function () { select(uniq[0], true); });
        }
        const fl = seg[2].filter(function (x) { return x[4]; }).map(function (x) { return flagsById[x[4]].message; });
        if (fl.length) span.title = (span.title ? span.title + " · " : "") + fl.join("; ");
        body.appendChild(span);
      });
      art.appendChild(el("div", { class: "para", "data-paragraph": String(n) }, [margin, body]));
    });
  }

  function markInfo(c) {
    const m = marks[c.id];
    if (!m) return "not reviewed";
    return m.status + " by " + (m.editor || m.key_id || "an editor") + " at " + new Date(m.marked_at).toLocaleString();
  }

  function claimCard(c, i) {
    const m = marks[c.id];
    const reasons = el("ul", {}, (c.verification.reasons || []).map(function (r) {
      return el("li", { text: r.message, "data-code": r.code });
    }));
    const flagList = (c.flags || []).map(function (id) { return flagsById[id]; }).filter(Boolean);
    const card = el("div", { class: "claim v-" + c.verification.status, tabindex: "0", role: "button",
      "aria-expanded": "false", "data-claim": c.id, id: "claim-" + c.id }, [
      el("div", {}, [
        el("span", { class: "badge " + c.verification.status, text: words(c.verification.status) }),
        m ? el("span", { class: "badge " + m.status, "data-mark": m.status, text: m.status }) : null,
        c.polarity === "negated" ? el("span", { class: "badge unsupported", title: "the source denies this", text: "negated" }) : null,
        el("strong", { text: c.text })]),
      el("div", { class: "who", text: (c.speaker.name || "unattributed") + " (" + c.speaker.type + (c.cue ? ", " + c.cue : "") + ")" }),
      el("div", { class: "details" }, [
        c.quote ? el("div", { text: "Quote: “" + c.quote.text + "”" }) : null,
        el("div", { text: "Evidence: " + (c.evidence || []).map(function (e) { return e.sentence_id || (e.start + "–" + e.end); }).join(", ") }),
        reasons.childNodes.length ? el("div", { text: "Why:" }) : el("div", { text: "Why: the evidence states it." }),
        reasons.childNodes.length ? reasons : null,
        flagList.length ? el("div", { text: "Flags: " + flagList.map(function (f) { return words(f.type); }).join(", ") }) : null,
        el("div", { class: "actions" }, [
          el("button", { type: "button", "data-action": "confirmed", text: "Confirm (c)" }),
          el("button", { type: "button", "data-action": "disputed", text: "Dispute (d)" }),
          el("button", { type: "button", "data-action": "clear", text: "Clear (u)" })]),
        el("div", { class: "markinfo", text: markInfo(c) })])]);
    card.title = words(c.verification.status) + ((c.verification.reasons || []).length ? ": " +
      c.verification.reasons.map(function (r) { return r.message; }).join("; ") : "");
    card.addEventListener("click", function (ev) {
      const act = ev.target.getAttribute && ev.target.getAttribute("data-action");
      if (act) { ev.stopPropagation(); mark(i, act === "clear" ? null : act); return; }
      select(i, false);
    });
    card.addEventListener("keydown", function (ev) {
      if ((ev.key === "Enter" || ev.key === " ") && ev.target === card) { ev.preventDefault(); select(i, false); }
    });
    return card;
  }

  function renderClaims() {
    const box = document.getElementById("claims");
    box.textContent = "";
    box.appendChild(el("h2", { text: "Claims (" + claims.length + ")" }));
    claims.forEach(function (c, i) {
      const card = claimCard(c, i);
      if (i === active) { card.classList.add("active"); card.setAttribute("aria-expanded", "true"); }
      box.appendChild(card);
    });
  }

  function renderRejected() {
    const box = document.getElementById("rejected");
    const rj = a.rejected_claims || [];
    box.appendChild(el("h2", { text: "Rejected claims (" + rj.length + ")" }));
    box.appendChild(el("ul", {}, rj.map(function (r) {
      return el("li", { "data-rejected": r.id }, [
        el("span", { class: "rtext", text: r.text }),
        el("span", { text: " — " + (r.speaker.name || "unattributed") + ": " + r.reasons.map(function (x) { return x.message; }).join("; ") })]);
    })));
  }

  function select(i, fromText) {
    active = i;
    document.querySelectorAll(".seg.sel").forEach(function (s) { s.classList.remove("sel"); });
    document.querySelectorAll(".seg[data-claims]").forEach(function (s) {
      if (s.getAttribute("data-claims").split(" ").indexOf(String(i)) >= 0) s.classList.add("sel");
    });
    renderClaims();
    const card = document.getElementById("claim-" + claims[i].id);
    card.focus({ preventScroll: true });
    card.scrollIntoView({ block: "nearest" });
    if (!fromText) {
      const first = document.querySelector(".seg.sel");
      if (first) first.scrollIntoView({ block: "nearest" });
    }
  }

  function mark(i, status) {
    const c = claims[i];
    const editor = document.getElementById("editor").value.trim() || null;
    const headers = { "Content-Type": "application/json" };
    const key = apiKey();
    if (key) headers["X-API-Key"] = key;
    fetch("/v1/analyses/" + encodeURIComponent(a.id) + "/claims/" + encodeURIComponent(c.id), {
      method: "PATCH", headers: headers, body: JSON.stringify({ status: status, editor: editor })
    }).then(function (r) {
      return r.json().then(function (body) {
        if (!r.ok) throw new Error(body.detail || ("HTTP " + r.status));
        if (status) marks[c.id] = body; else delete marks[c.id];
        active = i; renderClaims(); select(i, true);
        toast(c.id + ": " + (status || "mark cleared"));
      });
    }).catch(function (e) { toast("Could not save: " + e.message); });
  }

  document.addEventListener("keydown", function (ev) {
    if (ev.target && (ev.target.tagName === "INPUT" || ev.target.tagName === "TEXTAREA")) return;
    if (!claims.length) return;
    if (ev.key === "j") select(Math.min(claims.length - 1, active + 1), false);
    else if (ev.key === "k") select(Math.max(0, active - 1), false);
    else if (active >= 0 && ev.key === "c") mark(active, "confirmed");
    else if (active >= 0 && ev.key === "d") mark(active, "disputed");
    else if (active >= 0 && ev.key === "u") mark(active, null);
  });

  const ed = document.getElementById("editor");
  ed.value = localStorage.getItem("factdesk-editor") || "";
  ed.addEventListener("change", function () { localStorage.setItem("factdesk-editor", ed.value); });

  const m = a.meta || {};
  document.getElementById("meta").textContent = [data.url, "model " + m.model, "prompt " + m.prompt_version,
    claims.length + " claims", (a.flags || []).length + " flags", "stored " + new Date(data.created_at).toLocaleString(),
    "id " + a.id].filter(Boolean).join(" · ");
  renderArticle();
  renderClaims();
  renderRejected();
})();
