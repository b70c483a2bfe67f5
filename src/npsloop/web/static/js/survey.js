/* Public survey page: saves the score as a partial response the moment it is tapped and
 * completes the same response on submit (one idempotency key per page view, kept in
 * sessionStorage so a reload or back+resubmit never creates a second response).
 * The page works without this file: it is then a plain form post. */
(function () {
  "use strict";

  var form = document.getElementById("survey-form");
  var configEl = document.getElementById("survey-config");
  if (!form || !configEl) return;
  var config = JSON.parse(configEl.textContent);
  var keyInput = form.elements.namedItem("idempotency_key");
  var button = form.querySelector(".sv-submit");
  var formError = form.querySelector(".sv-form-error");
  var comment = form.querySelector("#comment");
  var counter = form.querySelector("[data-counter]");

  function newKey() {
    var c = window.crypto;
    if (c && typeof c.randomUUID === "function") return c.randomUUID();
    if (c && typeof c.getRandomValues === "function") {
      // randomUUID needs a secure context; intranet deployments often run on plain http.
      var bytes = c.getRandomValues(new Uint8Array(16));
      bytes[6] = (bytes[6] & 0x0f) | 0x40;
      bytes[8] = (bytes[8] & 0x3f) | 0x80;
      var hex = Array.prototype.map.call(bytes, function (b) {
        return (b + 0x100).toString(16).slice(1);
      }).join("");
      return [hex.slice(0, 8), hex.slice(8, 12), hex.slice(12, 16), hex.slice(16, 20),
        hex.slice(20)].join("-");
    }
    return null;
  }

  function loadState() {
    try {
      return JSON.parse(window.sessionStorage.getItem(config.storageKey) || "{}") || {};
    } catch (e) {
      return {};
    }
  }

  function saveState() {
    try {
      window.sessionStorage.setItem(config.storageKey, JSON.stringify(state));
    } catch (e) { /* private mode: the server key in the form still prevents duplicates */ }
  }

  function navigationType() {
    var entries = window.performance && performance.getEntriesByType
      ? performance.getEntriesByType("navigation") : [];
    return entries.length ? entries[0].type : "navigate";
  }

  var state = loadState();
  // Reload and back keep the key (same response); opening the link anew after a completed
  // response starts a new one (e.g. a shared kiosk tablet).
  if (state.done && navigationType() === "navigate") state = {};
  if (!state.key) {
    state.key = newKey() || keyInput.value;
    saveState();
  }
  keyInput.value = state.key;

  form.classList.add("sv-js");
  form.noValidate = true;

  function categoryOf(score) {
    if (score >= 9) return "promoter";
    if (score >= 7) return "passive";
    return "detractor";
  }

  function checkedScore() {
    var checked = form.querySelector("input[name=score]:checked");
    return checked ? parseInt(checked.value, 10) : null;
  }

  function showCategory(score) {
    form.setAttribute("data-category", categoryOf(score));
  }

  function visible(el) {
    return el.getClientRects().length > 0;
  }

  function clearError(field) {
    var holder = form.querySelector('[data-field="' + field + '"]');
    var slot = form.querySelector('[data-error-for="' + field + '"]');
    if (holder) holder.classList.remove("sv-has-error");
    if (slot) { slot.hidden = true; slot.textContent = ""; }
  }

  function clearErrors() {
    form.querySelectorAll(".sv-has-error").forEach(function (el) { el.classList.remove("sv-has-error"); });
    form.querySelectorAll("[data-error-for]").forEach(function (el) { el.hidden = true; });
    formError.hidden = true;
    var alert = form.querySelector(".sv-alert");
    if (alert) alert.remove();
  }

  function showError(field, message) {
    var holder = field ? form.querySelector('[data-field="' + field + '"]') : null;
    var slot = field ? form.querySelector('[data-error-for="' + field + '"]') : null;
    if (!slot || !visible(holder)) { slot = formError; holder = null; }
    slot.textContent = message;
    slot.hidden = false;
    if (holder) holder.classList.add("sv-has-error");
    (holder || slot).scrollIntoView({ behavior: "smooth", block: "center" });
  }

  function postJSON(body, keepalive) {
    return fetch(config.endpoint, {
      method: "POST",
      headers: { "Content-Type": "application/json", "Accept": "application/json" },
      body: JSON.stringify(body),
      credentials: "same-origin",
      keepalive: !!keepalive
    });
  }

  function basePayload(score, status) {
    return {
      score: score, status: status, idempotency_key: state.key,
      language: config.lang, channel: config.channel
    };
  }

  // Partial saves run one at a time; a newer tap replaces a queued one, so the response ends
  // up with the last score even when taps race.
  var inflight = null;
  var queued = null;

  function pump() {
    if (queued === null || state.done) {
      inflight = null;
      return Promise.resolve();
    }
    var score = queued;
    queued = null;
    inflight = postJSON(basePayload(score, "partial"), true)
      .then(function () {}, function () {})
      .then(pump);
    return inflight;
  }

  function savePartial(score) {
    queued = score;
    if (!inflight) pump();
  }

  function collect(score) {
    var body = basePayload(score, "complete");
    body.comment = comment && visible(comment) ? comment.value : "";
    body.drivers = {};
    body.choices = {};
    form.querySelectorAll("[data-driver]").forEach(function (row) {
      var picked = row.querySelector("input:checked");
      if (picked && visible(row)) body.drivers[row.getAttribute("data-driver")] = parseInt(picked.value, 10);
    });
    form.querySelectorAll("[data-choice]").forEach(function (block) {
      if (!visible(block)) return;
      var values = Array.prototype.map.call(block.querySelectorAll("input:checked"),
        function (input) { return input.value; });
      if (values.length) body.choices[block.getAttribute("data-choice")] = values;
    });
    return body;
  }

  var submitting = false;

  function resetButton() {
    submitting = false;
    button.disabled = false;
    button.textContent = button.getAttribute("data-label");
  }

  function handleResult(res) {
    return res.json().catch(function () { return {}; }).then(function (data) {
      if (res.ok && data.thanks_url) {
        state.done = true;
        saveState();
        window.location.assign(data.thanks_url);
        return;
      }
      if (res.status === 404 || res.status === 410) {
        window.location.reload(); // the page now says the survey is closed
        return;
      }
      resetButton();
      showError(data.field || "", data.message || config.messages.network);
    });
  }

  form.addEventListener("change", function (event) {
    var target = event.target;
    if (target.name === "score") {
      var score = parseInt(target.value, 10);
      showCategory(score);
      clearError("score");
      state.score = score;
      saveState();
      savePartial(score);
      return;
    }
    var holder = target.closest("[data-field]");
    if (holder) clearError(holder.getAttribute("data-field"));
  });

  if (comment && counter) {
    comment.addEventListener("input", function () {
      counter.textContent = String(comment.value.length);
      if (comment.value.length <= config.commentMax) clearError("comment");
    });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (submitting) return; // double clicks send once; the key makes any repeat harmless
    clearErrors();
    var score = checkedScore();
    if (score === null) {
      showError("score", config.messages.scoreRequired);
      return;
    }
    submitting = true;
    button.disabled = true;
    button.textContent = config.messages.submitting;
    var body = collect(score);
    // Let a pending partial save land first so the complete submit finds it by key.
    (inflight || Promise.resolve())
      .then(function () { return postJSON(body, false); })
      .then(handleResult)
      .catch(function () {
        resetButton();
        showError("", config.messages.network);
      });
  });

  // Back from the thank-you page may restore this page from memory: make it usable again.
  window.addEventListener("pageshow", function (event) {
    if (event.persisted) resetButton();
  });

  // Restore the tapped score after a reload or a language switch (same response).
  var initial = checkedScore();
  if (initial === null && typeof state.score === "number") {
    var radio = form.querySelector('input[name=score][value="' + state.score + '"]');
    if (radio) {
      radio.checked = true;
      initial = state.score;
    }
  }
  if (initial !== null) showCategory(initial);
})();
