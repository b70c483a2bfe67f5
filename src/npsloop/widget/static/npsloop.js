/*! npsloop web widget: no dependencies. The server decides who is asked; this file shows
 * the NPS question, the follow-up and the thanks in a Shadow DOM popup.
 *
 *   <script>window.npsloop=window.npsloop||function(){(npsloop.q=npsloop.q||[]).push(arguments)};</script>
 *   <script async src="https://nps.example.com/widget/npsloop.js"></script>
 *   npsloop('init', {host: 'https://nps.example.com', key: 'npw_...', lang: 'zh-CN'});
 *   npsloop('identify', 'user-42', {plan: 'pro', email: 'a@example.com'});
 *   npsloop('identify', 'user-42', {}, {user_hash: '...'});  // identity verification on
 *   npsloop('track', 'order_paid', {amount: 120});
 *   npsloop('reset');   // signed out
 *
 * Every command called after the script loaded returns a Promise of the server's answer.
 * The page is told what happened by window events: npsloop:decision, npsloop:shown,
 * npsloop:answered, npsloop:dismissed, npsloop:error (detail holds the data).
 */
(function (win, doc) {
  "use strict";
  var previous = win.npsloop;
  if (previous && previous.loaded) return;

  var state = { host: "", key: "", lang: "", user: null, hash: null, waiting: [], popup: null };
  var CSS =
    ":host{all:initial}" +
    ".card{position:fixed;right:20px;bottom:20px;z-index:2147483000;box-sizing:border-box;" +
    "width:420px;max-width:calc(100vw - 24px);background:#fff;color:#1f2933;border-radius:14px;" +
    "box-shadow:0 12px 40px rgba(15,23,42,.22),0 2px 8px rgba(15,23,42,.12);padding:20px 20px 16px;" +
    "font:15px/1.45 -apple-system,BlinkMacSystemFont,'Segoe UI','PingFang SC','Hiragino Sans GB'," +
    "'Microsoft YaHei','Noto Sans CJK SC',Roboto,Helvetica,Arial,sans-serif;" +
    "max-height:calc(100vh - 24px);overflow-y:auto;animation:up .25s ease-out}" +
    "@keyframes up{from{transform:translateY(16px);opacity:0}to{transform:none;opacity:1}}" +
    "@media (prefers-reduced-motion:reduce){.card{animation:none}}" +
    "*{box-sizing:border-box}" +
    ".close{position:absolute;top:8px;right:8px;width:32px;height:32px;border:0;border-radius:8px;" +
    "background:transparent;color:#52606d;font-size:22px;line-height:1;cursor:pointer}" +
    ".close:hover{background:#f0f4f8}" +
    "h2{margin:0 28px 14px 0;font-size:16px;font-weight:600;line-height:1.4}" +
    ".scores{display:flex;gap:4px;margin:0;padding:0;border:0}" +
    ".scores button{flex:1 1 0;min-width:0;height:40px;border:1px solid #cbd2d9;border-radius:8px;" +
    "background:#fff;color:#1f2933;font-weight:600;font-size:15px;font-family:inherit;cursor:pointer;" +
    "padding:0;transition:background .12s,border-color .12s}" +
    ".scores button:hover{border-color:#3e63dd;background:#eef2ff}" +
    ".scores button[aria-checked=true]{color:#fff;border-color:transparent}" +
    ".scores button.detractor[aria-checked=true]{background:#d64545}" +
    ".scores button.passive[aria-checked=true]{background:#c99a2e}" +
    ".scores button.promoter[aria-checked=true]{background:#2f9e6e}" +
    "button:focus-visible,textarea:focus-visible,input:focus-visible{outline:3px solid #9db4ff;" +
    "outline-offset:1px}" +
    ".ends{display:flex;justify-content:space-between;gap:8px;margin-top:6px;font-size:12px;" +
    "color:#616e7c}" +
    "label{display:block;margin:16px 0 6px;font-weight:600}" +
    "textarea{width:100%;min-height:84px;resize:vertical;border:1px solid #cbd2d9;" +
    "border-radius:8px;padding:8px 10px;font:inherit;color:inherit}" +
    ".row{display:flex;justify-content:flex-end;margin-top:12px}" +
    ".primary{border:0;border-radius:8px;background:#3e63dd;color:#fff;font-weight:600;" +
    "font-size:15px;font-family:inherit;padding:11px 20px;cursor:pointer}" +
    ".primary:disabled{opacity:.6;cursor:default}" +
    ".error{color:#b42318;font-size:13px;margin:8px 0 0}" +
    ".thanks{text-align:center;padding:8px 4px 4px}" +
    ".thanks h2{margin:0 0 6px}" +
    ".thanks p{margin:0;color:#52606d}" +
    ".ref{margin-top:14px;padding:12px;border-radius:10px;background:#f0f9f4;text-align:left}" +
    ".ref p{color:#1f2933;margin:0 0 8px}" +
    ".ref .inc{font-weight:600}" +
    ".copy{display:flex;gap:6px}" +
    ".copy input{flex:1;min-width:0;border:1px solid #cbd2d9;border-radius:8px;padding:8px;" +
    "font:13px/1.2 ui-monospace,Menlo,Consolas,monospace;background:#fff;color:inherit}" +
    ".copy .primary{padding:8px 12px;font-size:14px}" +
    "@media (max-width:480px){.card{right:0;left:0;bottom:0;width:100%;max-width:none;" +
    "border-radius:16px 16px 0 0;padding:18px 12px calc(14px + env(safe-area-inset-bottom))}" +
    ".scores{gap:3px}" +
    ".scores button{height:44px;font-size:14px;border-radius:6px}h2{font-size:15px}}";

  function emit(name, detail) {
    try {
      win.dispatchEvent(new CustomEvent("npsloop:" + name, { detail: detail }));
    } catch (err) { /* a very old browser: no events, the widget still works */ }
  }

  function pageLang() {
    return state.lang || doc.documentElement.getAttribute("lang") || navigator.language || "";
  }

  function call(action, body) {
    if (!state.host || !state.key) {
      return Promise.reject(new Error("npsloop: call init with host and key first"));
    }
    var url = state.host + "/widget/v1/" + encodeURIComponent(state.key) + "/" + action;
    // text/plain keeps the cross-origin POST "simple": no preflight round trip.
    return fetch(url, {
      method: "POST", mode: "cors", credentials: "omit", keepalive: true,
      headers: { "Content-Type": "text/plain;charset=UTF-8" }, body: JSON.stringify(body)
    }).then(function (res) {
      return res.json().catch(function () { return {}; }).then(function (data) {
        if (!res.ok) {
          var err = new Error("npsloop: " + action + " failed (" + res.status + ")");
          err.status = res.status;
          err.detail = data.detail;
          emit("error", { action: action, status: res.status, detail: data.detail });
          throw err;
        }
        return data;
      });
    });
  }

  function el(tag, attrs, children) {
    var node = doc.createElement(tag);
    for (var name in attrs || {}) {
      if (name === "text") node.textContent = attrs[name];
      else if (name.slice(0, 2) === "on") node.addEventListener(name.slice(2), attrs[name]);
      else node.setAttribute(name, attrs[name]);
    }
    (children || []).forEach(function (child) { if (child) node.appendChild(child); });
    return node;
  }

  function category(score) {
    return score >= 9 ? "promoter" : score >= 7 ? "passive" : "detractor";
  }

  function handleOffer(offer) {
    emit("decision", offer);
    if (offer && offer.show && !state.popup) {
      var wait = Math.max(0, offer.delay_seconds || 0) * 1000;
      setTimeout(function () { if (!state.popup) open(offer); }, wait);
    }
    return offer;
  }

  function open(offer) {
    var survey = offer.survey;
    var texts = survey.texts;
    var host = el("div", { "data-npsloop": "", lang: survey.language });
    var root = host.attachShadow({ mode: "open" });
    var popup = { host: host, ticket: offer.ticket, score: null, done: false, survey: survey };
    state.popup = popup;
    var titleId = "npsloop-q";
    var card = el("div", {
      "class": "card", role: "dialog", "aria-modal": "false", "aria-labelledby": titleId,
      lang: survey.language
    });
    var body = el("div");
    var closeButton = el("button", {
      "class": "close", type: "button", "aria-label": texts.close, title: texts.close,
      text: "\u00d7", onclick: function () { close(true); }
    });
    card.addEventListener("keydown", function (event) {
      if (event.key === "Escape") close(true);
    });
    card.appendChild(closeButton);
    card.appendChild(body);
    root.appendChild(el("style", { text: CSS }));
    root.appendChild(card);
    doc.body.appendChild(host);

    var scores = el("div", { "class": "scores", role: "radiogroup", "aria-labelledby": titleId });
    var buttons = [];
    for (var n = 0; n <= 10; n++) {
      buttons.push(el("button", {
        type: "button", role: "radio", "aria-checked": "false", "class": category(n),
        "data-score": String(n), "aria-label": texts.score_label.replace("{score}", n),
        tabindex: n === 0 ? "0" : "-1", text: String(n)
      }));
    }
    buttons.forEach(function (button, index) {
      scores.appendChild(button);
      button.addEventListener("click", function () { choose(index); });
      // Arrow keys move between the scores, as in a radio group.
      button.addEventListener("keydown", function (event) {
        var step = { ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1 }[event.key];
        if (step) {
          event.preventDefault();
          var next = buttons[(index + step + 11) % 11];
          next.focus();
        }
      });
    });
    var followup = el("div", { hidden: "" });
    var label = el("label", { "for": "npsloop-comment" });
    var comment = el("textarea", {
      id: "npsloop-comment", maxlength: "5000", placeholder: texts.placeholder
    });
    var error = el("p", { "class": "error", role: "alert", hidden: "" });
    var submit = el("button", { "class": "primary", type: "button", text: texts.submit });
    submit.addEventListener("click", function () { send(true); });
    followup.appendChild(label);
    followup.appendChild(comment);
    followup.appendChild(error);
    followup.appendChild(el("div", { "class": "row" }, [submit]));
    body.appendChild(el("h2", { id: titleId, text: survey.question }));
    body.appendChild(scores);
    body.appendChild(el("div", { "class": "ends", "aria-hidden": "true" }, [
      el("span", { text: texts.not_likely }), el("span", { text: texts.very_likely })
    ]));
    body.appendChild(followup);

    function choose(index) {
      popup.score = index;
      buttons.forEach(function (button, i) {
        button.setAttribute("aria-checked", i === index ? "true" : "false");
        button.setAttribute("tabindex", i === index ? "0" : "-1");
      });
      var question = survey.followup[category(index)];
      // No follow-up for this category (the survey's skip logic): just the send button.
      label.textContent = question || "";
      label.hidden = comment.hidden = !question;
      followup.hidden = false;
      // The score is saved the moment it is tapped; the submit completes the response.
      send(false);
    }

    function send(complete) {
      if (popup.score === null || popup.done) return;
      if (complete) {
        if (survey.followup_required && !comment.hidden && !comment.value.trim()) {
          error.textContent = texts.required;
          error.hidden = false;
          comment.focus();
          return;
        }
        submit.disabled = true;
        submit.textContent = texts.sending;
      }
      var payload = {
        ticket: popup.ticket, score: popup.score, comment: comment.value.trim(),
        lang: survey.language, complete: complete
      };
      call("answer", payload).then(function (saved) {
        if (!complete) return;
        popup.done = true;
        emit("answered", saved);
        thanks(saved);
      }, function () {
        if (!complete) return;
        submit.disabled = false;
        submit.textContent = texts.submit;
        error.textContent = texts.error;
        error.hidden = false;
      });
    }

    function thanks(saved) {
      body.textContent = "";
      var heading = el("h2", { id: titleId, tabindex: "-1", text: texts.thanks });
      var box = el("div", { "class": "thanks", "aria-live": "polite" }, [
        heading, el("p", { text: texts.thanks_by_category[saved.category] || "" })
      ]);
      body.appendChild(box);
      heading.focus();
      if (saved.category === "promoter" && saved.status === "complete") referral(box, saved);
    }

    function referral(box, saved) {
      var url = state.host + "/referral-invite/" + encodeURIComponent(survey.token) + "/" +
        encodeURIComponent(saved.response_id) + "?lang=" + encodeURIComponent(survey.language);
      fetch(url, { credentials: "omit" }).then(function (res) { return res.json(); })
        .then(function (data) {
          var invite = data && data.invite;
          if (!invite) return;
          var link = el("input", { readonly: "", value: invite.url, "aria-label": invite.url });
          var copy = el("button", { "class": "primary", type: "button", text: texts.referral_copy });
          copy.addEventListener("click", function () {
            link.select();
            var done = function () { copy.textContent = texts.referral_copied; };
            if (navigator.clipboard) navigator.clipboard.writeText(invite.url).then(done, done);
            else { try { doc.execCommand("copy"); } catch (err) { /* selected anyway */ } done(); }
            fetch(invite.share_endpoint, {
              method: "POST", mode: "no-cors", credentials: "omit",
              headers: { "Content-Type": "text/plain" }, body: JSON.stringify({ method: "copy" })
            }).catch(function () { /* the count is best effort */ });
          });
          box.appendChild(el("div", { "class": "ref" }, [
            invite.incentive ? el("p", { "class": "inc", text: invite.incentive }) : null,
            el("p", { text: invite.share_text }),
            el("div", { "class": "copy" }, [link, copy])
          ]));
        })["catch"](function () { /* no invitation offered: the thanks stands alone */ });
    }

    call("shown", { ticket: popup.ticket }).then(function (data) {
      emit("shown", { ticket: popup.ticket, status: data.status });
    }, function () { /* counted best effort; the popup still works */ });
  }

  function close(byVisitor) {
    var popup = state.popup;
    if (!popup) return;
    popup.host.remove();
    state.popup = null;
    if (byVisitor && !popup.done) {
      call("dismissed", { ticket: popup.ticket }).then(function (data) {
        emit("dismissed", { ticket: popup.ticket, status: data.status });
      }, function () { /* best effort */ });
    }
  }

  function flush() {
    var waiting = state.waiting;
    state.waiting = [];
    waiting.forEach(function (item) { track(item[0], item[1]).then(item[2], item[3]); });
  }

  function track(event, properties) {
    if (state.user === null) {
      // Held until identify: a decision is always about a known visitor.
      return new Promise(function (resolve, reject) {
        state.waiting.push([event, properties, resolve, reject]);
      });
    }
    var id = Date.now().toString(36) + Math.random().toString(36).slice(2, 10);
    return call("track", {
      user_id: state.user, event: String(event), properties: properties || {},
      event_id: "w:" + id, lang: pageLang(), user_hash: state.hash
    }).then(handleOffer);
  }

  var commands = {
    init: function (options) {
      options = options || {};
      state.host = String(options.host || "").replace(/\/+$/, "");
      state.key = String(options.key || "");
      state.lang = options.lang || "";
      return Promise.resolve({ ok: !!(state.host && state.key) });
    },
    identify: function (id, attributes, options) {
      state.user = String(id);
      // With identity verification on, the site's server signs the user id (user_hash).
      state.hash = (options && options.user_hash) || null;
      var answer = call("identify", {
        user_id: state.user, attributes: attributes || {}, lang: pageLang(),
        user_hash: state.hash
      }).then(handleOffer);
      flush();
      return answer;
    },
    track: track,
    reset: function () {
      state.user = null;
      state.hash = null;
      close(false);
      return Promise.resolve({ ok: true });
    }
  };

  function npsloop(name) {
    var command = commands[name];
    var args = Array.prototype.slice.call(arguments, 1);
    if (!command) return Promise.reject(new Error("npsloop: unknown command " + name));
    var result = command.apply(null, args);
    result["catch"](function (err) { if (win.console) console.warn(String(err)); });
    return result;
  }
  npsloop.loaded = true;
  win.npsloop = npsloop;
  ((previous && previous.q) || []).forEach(function (args) {
    npsloop.apply(null, Array.prototype.slice.call(args));
  });
})(window, document);
