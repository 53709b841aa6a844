// Live updates for the casemanager workspace. Everything also works without this script:
// forms post normally, links open pages, and the queue has a refresh link.
//
// The server stays the truth: after every WebSocket event the script loads the changed parts
// again (the open case from /zaken/{ref}/paneel, the inbox lists from /werkbak/lijsten) instead of
// guessing. Buttons and status therefore never go stale; field contents, focus and the scroll
// position survive each swap, and the reply draft is kept per case in localStorage. The user's
// own settings (Enter choice, notifications, sound) are stored on the server (POST /instellingen).
(function () {
  "use strict";
  var body = document.body;
  var me = body.getAttribute("data-gebruiker") || "";
  var csrf = body.getAttribute("data-csrf") || "";
  var live = document.getElementById("live-status");
  var panel = document.getElementById("zaak-paneel");
  var inbox = document.getElementById("werkbak");
  var queue = document.getElementById("wachtrij");
  var baseTitle = document.title;
  var socket = null;
  var retry = 1000;
  var unseen = 0;           // messages below the visible part of the open conversation
  var lastRead = {};        // per case: the newest message id reported as read
  var sending = {};         // client_id -> {reference, text} of chat messages on their way
  var BACKGROUND = {"X-Background-Refresh": "1"};  // the page's own loads: no sign of life
  // The user's own settings, as the server rendered them (base.html); kept current on change.
  var prefs = {
    enter: body.getAttribute("data-enter") === "regel",
    meldingen: body.getAttribute("data-meldingen") === "aan",
    geluid: body.getAttribute("data-geluid") === "aan"
  };

  var myTeams = (body.getAttribute("data-teams") || "").split(",").filter(Boolean);
  function myTeam(team) { return myTeams.length === 0 || myTeams.indexOf(team) >= 0; }
  function $(id) { return document.getElementById(id); }
  function announce(text) { if (live) { live.textContent = ""; live.textContent = text; } }
  function currentRef() { return panel ? (panel.getAttribute("data-reference") || "") : ""; }
  function draftKey(ref) { return "werkplek:concept:" + me + ":" + ref; }
  function store(fn) { try { return fn(window.localStorage); } catch (e) { return null; } }

  // A visible message at the top of the page (one element, reused).
  function flash(text) {
    var el = document.querySelector("main .melding");
    if (!el) {
      el = document.createElement("p");
      el.className = "melding";
      el.setAttribute("role", "status");
      var main = document.querySelector("main");
      main.insertBefore(el, main.firstChild);
    }
    el.textContent = text;
  }

  // --- times -------------------------------------------------------------------------------

  // Same format and timezone as the server-rendered times: dd-mm-jjjj uu:mm.
  function formatTime(iso, zone) {
    var date = new Date(iso);
    try {
      var parts = {};
      new Intl.DateTimeFormat("nl-NL", {
        timeZone: zone || undefined, day: "2-digit", month: "2-digit", year: "numeric",
        hour: "2-digit", minute: "2-digit", hourCycle: "h23"
      }).formatToParts(date).forEach(function (p) { parts[p.type] = p.value; });
      return parts.day + "-" + parts.month + "-" + parts.year + " " + parts.hour + ":" + parts.minute;
    } catch (e) {
      return date.toLocaleString("nl-NL");
    }
  }

  // Same words as the server's "wachttijd" filter; waiting times keep counting on an open page.
  function waited(iso) {
    var minutes = Math.max(Math.floor((Date.now() - new Date(iso).getTime()) / 60000), 0);
    if (minutes < 60) { return minutes + " min"; }
    var hours = Math.floor(minutes / 60);
    if (hours < 24) { return hours + " u " + (minutes % 60) + " min"; }
    return Math.floor(hours / 24) + " d " + (hours % 24) + " u";
  }
  function tick() {
    document.querySelectorAll(".teller[data-sinds]").forEach(function (el) {
      el.textContent = waited(el.getAttribute("data-sinds"));
    });
    // The teamleider's overview: a wait turns "let op", then "te lang" while the page is open.
    document.querySelectorAll(".wacht[data-let-op]").forEach(function (el) {
      var counter = el.querySelector(".teller");
      if (!counter) { return; }
      var minutes = (Date.now() - new Date(counter.getAttribute("data-sinds")).getTime()) / 60000;
      var level = minutes >= +el.getAttribute("data-te-lang") ? "te-lang" : (minutes >= +el.getAttribute("data-let-op") ? "let-op" : "");
      el.classList.toggle("te-lang", level === "te-lang");
      el.classList.toggle("let-op", level === "let-op");
      var words = el.querySelector(".niveau");
      if (words) { words.textContent = level === "te-lang" ? " – te lang" : (level === "let-op" ? " – let op" : ""); }
    });
  }
  setInterval(tick, 15000);

  // --- the open conversation -----------------------------------------------------------------

  function transcript() { return $("transcript"); }
  function atBottom(el) { return el.scrollHeight - el.scrollTop - el.clientHeight < 40; }
  function toBottom() {
    var t = transcript();
    if (t) { t.scrollTop = t.scrollHeight; }
    showUnseen(0);
  }
  function showUnseen(n) {
    unseen = n;
    var button = $("nieuwe-berichten");
    if (!button) { return; }
    button.hidden = n === 0;
    button.textContent = n === 1 ? "1 nieuw bericht" : n + " nieuwe berichten";
  }

  function appendMessage(ev) {
    var t = transcript();
    if (!t || (ev.id && t.querySelector('li[data-id="' + ev.id + '"]'))) { return; }
    var follow = atBottom(t) || ev.role === "casemanager";
    var empty = t.querySelector(".leeg");
    if (empty) { empty.remove(); }
    var li = document.createElement("li");
    li.className = "bericht " + ev.role;
    if (ev.id) { li.setAttribute("data-id", ev.id); }
    var who = document.createElement("span");
    who.className = "wie";
    who.textContent = ev.role === "citizen" ? "Burger" : (ev.role === "bot" ? "Chatbot" : (ev.name || "Medewerker"));
    var time = document.createElement("time");
    time.dateTime = ev.timestamp;
    time.textContent = formatTime(ev.timestamp, t.getAttribute("data-tijdzone"));
    var p = document.createElement("p");
    p.textContent = ev.text;  // textContent: citizen text is never interpreted as HTML
    li.append(who, " ", time, p);
    t.appendChild(li);
    if (follow) { toBottom(); } else { showUnseen(unseen + 1); }
    if (ev.role === "citizen") { announce("Nieuw bericht van de burger"); }
    markRead();
  }

  function isMine() {
    var status = $("zaak-status");
    return !!status && status.getAttribute("data-status") === "in_behandeling" &&
      status.getAttribute("data-claimed-by") === me;
  }

  // The casemanager has seen the newest message: the page is visible and scrolled down.
  function markRead() {
    var ref = currentRef();
    var t = transcript();
    if (!ref || !t || !isMine() || document.visibilityState !== "visible" || !atBottom(t)) { return; }
    var ids = Array.prototype.map.call(t.querySelectorAll("li[data-id]"), function (li) {
      return parseInt(li.getAttribute("data-id"), 10) || 0;
    });
    var newest = Math.max.apply(null, [0].concat(ids));
    if (newest <= (lastRead[ref] || 0)) { return; }
    lastRead[ref] = newest;
    var data = new FormData();
    data.append("bericht", String(newest));
    fetch("/zaken/" + encodeURIComponent(ref) + "/gelezen", {
      method: "POST", body: data, credentials: "same-origin",
      headers: Object.assign({"Accept": "application/json", "X-CSRF-Token": csrf}, BACKGROUND)
    }).then(refreshCounts, function () { lastRead[ref] = 0; });
  }

  function restoreDraft() {
    var ref = currentRef();
    var box = $("tekst");
    if (!ref || !box || box.value) { return; }
    var saved = store(function (s) { return s.getItem(draftKey(ref)); });
    if (saved) { box.value = saved; }
  }

  // After a swap: the fields keep what was typed, the focus stays where it was.
  var submitted = [];  // forms just sent: the server's new state wins over what they held
  function captureFields(root) {
    var skip = submitted;
    submitted = [];
    var values = {};
    var checked = {};
    root.querySelectorAll("textarea[id], input[id], select[id]").forEach(function (el) {
      if (skip.indexOf(el.form) >= 0) { return; }
      if (el.type === "checkbox" || el.type === "radio") { checked[el.id] = el.checked; }
      else if (el.type !== "hidden") { values[el.id] = el.value; }
    });
    var open = [];
    root.querySelectorAll("details[id]").forEach(function (el) { if (el.open) { open.push(el.id); } });
    var active = document.activeElement;
    return {
      values: values,
      checked: checked,
      open: open,
      focusId: active && root.contains(active) ? active.id : null,
      focusInside: !!active && root.contains(active) && active !== root,
      selection: active && "selectionStart" in active ? [active.selectionStart, active.selectionEnd] : null
    };
  }
  function restoreFields(root, state) {
    Object.keys(state.values).forEach(function (id) {
      var el = $(id);
      if (el && root.contains(el) && el.type !== "hidden") { el.value = state.values[id]; }
    });
    Object.keys(state.checked || {}).forEach(function (id) {
      var el = $(id);
      if (el && root.contains(el)) { el.checked = state.checked[id]; }
    });
    (state.open || []).forEach(function (id) {
      var el = $(id);
      if (el && root.contains(el)) { el.open = true; }
    });
    if (state.focusId && $(state.focusId)) {
      var el = $(state.focusId);
      el.focus({preventScroll: true});
      if (state.selection && "setSelectionRange" in el) {
        try { el.setSelectionRange(state.selection[0], state.selection[1]); } catch (e) { /* not text */ }
      }
    } else if (state.focusInside) {
      var head = $("zaak-kop");
      if (head) { head.focus(); }
    }
  }

  var panelLoading = null;
  var panelAgain = false;
  function panelUrl(ref) {
    return "/zaken/" + encodeURIComponent(ref) + "/paneel" + (inbox ? "?weergave=werkbak" : "");
  }
  // Loads the open case again; ``opts.fresh``: a newly opened case (scroll down, focus the reply box).
  function refreshPanel(opts) {
    opts = opts || {};
    var ref = currentRef();
    if (!panel || !ref) { return Promise.resolve(); }
    if (panelLoading && !opts.fresh) { panelAgain = true; return panelLoading; }
    panelLoading = fetch(panelUrl(ref), {credentials: "same-origin", headers: Object.assign({"Accept": "text/html"}, BACKGROUND)})
      .then(function (r) {
        if (r.status === 401 || r.redirected && r.url.indexOf("/login") >= 0) { window.location.reload(); }
        return r.ok ? r.text() : null;
      })
      .then(function (html) {
        if (html === null || ref !== currentRef()) { return; }
        var old = transcript();
        var scroll = old && !opts.fresh ? {top: old.scrollTop, bottom: atBottom(old)} : null;
        var oldStatus = $("zaak-status");
        var before = oldStatus ? oldStatus.getAttribute("data-status") + "/" + oldStatus.getAttribute("data-claimed-by") : "";
        var state = opts.fresh ? {values: {}, focusId: null, focusInside: false} : captureFields(panel);
        var keepUnseen = opts.fresh ? 0 : unseen;
        panel.innerHTML = html;  // our own server-rendered, escaped fragment
        restoreFields(panel, state);
        restoreDraft();
        showEnterChoice();
        var t = transcript();
        if (t) {
          if (!scroll || scroll.bottom) { toBottom(); } else { t.scrollTop = scroll.top; showUnseen(keepUnseen); }
        }
        var status = $("zaak-status");
        var after = status ? status.getAttribute("data-status") + "/" + status.getAttribute("data-claimed-by") : "";
        if (!opts.fresh && before && after !== before && status) {
          announce(status.textContent.replace(/\s+/g, " ").trim());
        }
        if (opts.fresh) { focusReply() || ($("zaak-kop") && $("zaak-kop").focus()); }
        markRead();
      })
      .catch(function () {})
      .finally(function () {
        panelLoading = null;
        if (panelAgain) { panelAgain = false; refreshPanel(); }
      });
    return panelLoading;
  }

  function focusReply() {
    var box = $("tekst");
    if (!box) { return false; }
    box.focus();
    return true;
  }

  // --- the inbox lists, the tab title --------------------------------------------------------

  function setTitle(unread) {
    document.title = (unread > 0 ? "(" + unread + ") " : "") + baseTitle;
  }

  var listsTimer = null;
  function refreshCounts() {
    clearTimeout(listsTimer);
    listsTimer = setTimeout(inbox ? loadLists : loadUnread, 100);
  }

  function loadUnread() {
    fetch("/werkbak.json", {credentials: "same-origin", headers: Object.assign({"Accept": "application/json"}, BACKGROUND)})
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) { if (data) { setTitle(data.unread); } })
      .catch(function () {});
  }

  function loadLists() {
    var url = "/werkbak/lijsten" + window.location.search.replace(/([?&])zaak=[^&]*/, "$1").replace(/[?&]$/, "");
    url += (url.indexOf("?") >= 0 ? "&" : "?") + "zaak=" + encodeURIComponent(currentRef());
    fetch(url, {credentials: "same-origin", headers: Object.assign({"Accept": "text/html"}, BACKGROUND)})
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (html === null) { return; }
        var doc = new DOMParser().parseFromString("<div>" + html + "</div>", "text/html");
        ["mijn-chats", "wachtrij-kort"].forEach(function (id) {
          var fresh = doc.getElementById(id);
          var old = $(id);
          if (!fresh || !old) { return; }
          var active = document.activeElement;
          var focusId = active && old.contains(active) ? active.id : null;
          var focusRef = active && old.contains(active) && active.classList.contains("chat-link") ? active.getAttribute("data-reference") : null;
          old.replaceWith(fresh);
          var again = focusId ? $(focusId) : (focusRef ? fresh.querySelector('.chat-link[data-reference="' + focusRef + '"]') : null);
          if (again) { again.focus({preventScroll: true}); }
          else if (active && !document.body.contains(active) && focusId !== null) { $(id).querySelector("h2").setAttribute("tabindex", "-1"); $(id).querySelector("h2").focus(); }
        });
        var chats = $("mijn-chats");
        setTitle(chats ? parseInt(chats.getAttribute("data-ongelezen"), 10) || 0 : 0);
      })
      .catch(function () {});
  }

  // Opens a case in the inbox without leaving the page.
  function openCase(ref, push) {
    if (!inbox || !panel || !ref) { return; }
    var old = currentRef();
    if (old && socket && socket.readyState === WebSocket.OPEN) {
      socket.send(JSON.stringify({type: "unsubscribe", reference: old}));
    }
    panel.setAttribute("data-reference", ref);
    if (socket && socket.readyState === WebSocket.OPEN) {
      socket.send(JSON.stringify({type: "subscribe", reference: ref}));
    }
    if (push !== false) { history.pushState({zaak: ref}, "", "/werkbak?zaak=" + encodeURIComponent(ref)); }
    showUnseen(0);
    refreshPanel({fresh: true}).then(loadLists);
  }

  function chatLinks() {
    return Array.prototype.slice.call(document.querySelectorAll("#mijn-chats .chat-link"));
  }
  function stepChat(delta) {
    var links = chatLinks();
    if (!links.length) { return; }
    var refs = links.map(function (a) { return a.getAttribute("data-reference"); });
    var at = refs.indexOf(currentRef());
    var next = at < 0 ? (delta > 0 ? 0 : refs.length - 1) : (at + delta + refs.length) % refs.length;
    openCase(refs[next]);
  }

  // --- the teamleider's overview -------------------------------------------------------------

  var overview = document.getElementById("overzicht");
  var overviewTimer = null;
  function refreshOverview() {
    if (!overview) { return; }
    clearTimeout(overviewTimer);
    overviewTimer = setTimeout(function () {
      fetch(window.location.href, {credentials: "same-origin", headers: Object.assign({"Accept": "text/html"}, BACKGROUND)})
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) {
          if (html === null) { return; }
          var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("overzicht");
          if (fresh && !overview.contains(document.activeElement)) {
            overview.replaceWith(fresh);
            overview = fresh;
            tick();
          }
        })
        .catch(function () {});
    }, 150);
  }
  // A citizen's message reaches only whoever handles the case: look again now and then too.
  if (overview) { setInterval(refreshOverview, 30000); }

  // --- the queue page (classic) --------------------------------------------------------------

  var refreshing = false;
  function refreshQueue() {
    if (!queue || refreshing) { return; }
    refreshing = true;
    fetch(window.location.href, {credentials: "same-origin", headers: Object.assign({"Accept": "text/html"}, BACKGROUND)})
      .then(function (r) { return r.text(); })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = doc.getElementById("wachtrij");
        if (fresh && !queue.contains(document.activeElement)) {
          queue.replaceWith(fresh);
          queue = fresh;
        }
        announce("De wachtrij is bijgewerkt");
      })
      .catch(function () {})
      .finally(function () { refreshing = false; });
  }

  // --- forms in the inbox and on the case page: no page reload -------------------------------

  function liveForm(form) {
    return form.method.toLowerCase() === "post" &&
      ((panel && panel.contains(form)) || (inbox && inbox.contains(form)));
  }

  function sendChat(form) {
    var ref = currentRef();
    var text = form.elements["tekst"].value;
    if (!text.trim()) { return; }
    var clientId = String(Date.now()) + Math.random().toString(16).slice(2, 6);
    sending[clientId] = {reference: ref, text: text};
    socket.send(JSON.stringify({type: "send", reference: ref, text: text, client_id: clientId}));
    // Empty at once, so what is typed next is a new message (not added to this one and sent again);
    // the draft keeps the text until the server confirms it, and it comes back if it fails.
    form.elements["tekst"].value = "";
    setChatStatus("Bezig met versturen…");
  }

  // A message that was not sent goes back into the reply box, before what was typed since.
  function giveBack(entry) {
    var box = $("tekst");
    if (!entry || entry.reference !== currentRef() || !box) { return; }
    var value = box.value ? entry.text + "\n" + box.value : entry.text;
    box.value = value;
    store(function (s) { s.setItem(draftKey(entry.reference), value); });
  }

  function submitLive(form) {
    var action = form.getAttribute("action");
    var button = form.querySelector("button[type=submit]");
    if (button) { button.disabled = true; }
    return fetch(action, {
      method: "POST", body: new FormData(form), credentials: "same-origin",
      headers: {"Accept": "application/json", "X-CSRF-Token": csrf}
    })
      .then(function (r) {
        return r.text().then(function (text) {
          var data = null;
          try { data = JSON.parse(text); } catch (e) { data = {detail: text}; }
          return {ok: r.ok, data: data || {}};
        });
      })
      .then(function (answer) {
        if (button) { button.disabled = false; }
        var detail = answer.data.detail || (answer.ok ? "Gelukt." : "Dat lukte niet.");
        flash(detail);
        if (!answer.ok) { refreshPanel(); refreshCounts(); return; }
        form.reset();
        submitted.push(form);
        var claimed = answer.data.reference || (/\/claim$/.test(action) ? action.split("/")[2] : null);
        if (claimed && inbox) { openCase(claimed); return; }
        refreshPanel().then(function () { focusReply(); });
        refreshCounts();
      })
      .catch(function () {
        if (button) { button.disabled = false; }
        flash("Dat lukte niet: geen verbinding met de server. Probeer het opnieuw.");
      });
  }

  document.addEventListener("submit", function (e) {
    var form = e.target;
    if (!(form instanceof HTMLFormElement) || !liveForm(form)) { return; }
    if (form.id === "chat-form") {
      if (!socket || socket.readyState !== WebSocket.OPEN) {  // plain POST fallback
        store(function (s) { s.removeItem(draftKey(currentRef())); });
        return;
      }
      e.preventDefault();
      sendChat(form);
      return;
    }
    e.preventDefault();
    submitLive(form);
  });

  document.addEventListener("input", function (e) {
    if (e.target && e.target.id === "tekst" && currentRef()) {
      var ref = currentRef();
      var value = e.target.value;
      store(function (s) { if (value) { s.setItem(draftKey(ref), value); } else { s.removeItem(draftKey(ref)); } });
    }
  });

  document.addEventListener("click", function (e) {
    var target = e.target instanceof Element ? e.target : null;
    if (!target) { return; }
    if (target.id === "standaardtekst-invoegen") {
      var select = $("standaardtekst");
      var chosen = select && select.selectedIndex > 0 ? select.options[select.selectedIndex] : null;
      if (chosen) { insertCanned(chosen); select.selectedIndex = 0; }
      else { setChatStatus("Kies eerst een standaardtekst."); }
      return;
    }
    if (target.id === "nieuwe-berichten") {
      toBottom();
      var t = transcript();
      if (t) { t.focus(); }
      markRead();
      return;
    }
    var link = target.closest("a.chat-link");
    if (link && inbox && !(e.ctrlKey || e.metaKey || e.shiftKey || e.button !== 0)) {
      e.preventDefault();
      openCase(link.getAttribute("data-reference"));
    }
  });

  document.addEventListener("scroll", function (e) {
    if (e.target && e.target.id === "transcript" && atBottom(e.target)) { showUnseen(0); markRead(); }
  }, true);

  document.addEventListener("visibilitychange", markRead);

  // --- standard texts: "/titel" + Enter, or the list under the reply box ---------------------

  function cannedOptions() {
    var select = $("standaardtekst");
    return select ? Array.prototype.filter.call(select.options, function (o) { return o.value; }) : [];
  }
  // Puts a standard text into the reply box (in place of a typed "/titel"), to edit before sending.
  function insertCanned(option) {
    var box = $("tekst");
    if (!box || !option) { return; }
    var text = option.getAttribute("data-tekst") || "";
    var value = box.value;
    var at;
    if (/^\/\S*$/.test(value.trim())) {
      box.value = text;
      at = text.length;
    } else {
      var start = box.selectionStart || 0, end = box.selectionEnd || 0;
      box.value = value.slice(0, start) + text + value.slice(end);
      at = start + text.length;
    }
    box.focus();
    box.setSelectionRange(at, at);
    box.dispatchEvent(new Event("input", {bubbles: true}));  // keeps the draft
    setChatStatus("Standaardtekst " + option.textContent + " staat in het berichtvak. Pas hem aan als dat nodig is.");
  }
  function insertByTitle(word) {
    var wanted = word.toLowerCase();
    var found = cannedOptions().filter(function (o) { return o.textContent.toLowerCase().indexOf(wanted) === 0; })[0];
    if (found) { insertCanned(found); }
    else { setChatStatus("Geen standaardtekst met een titel die begint met " + word + "."); }
  }

  // --- the user's own settings (stored on the server, with the user) ------------------------

  // Saves settings at once: {veld: true/false}; answers with the stored state.
  function savePreferences(changes) {
    var data = new FormData();
    data.append("velden", Object.keys(changes).join(","));
    Object.keys(changes).forEach(function (name) { if (changes[name]) { data.append(name, "aan"); } });
    return fetch("/instellingen", {
      method: "POST", body: data, credentials: "same-origin",
      headers: {"Accept": "application/json", "X-CSRF-Token": csrf}
    }).then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); });
  }

  // Before, the Enter choice lived in this browser only: hand it to the server once.
  function enterKey() { return "werkplek:enter:" + me; }
  if (me && store(function (s) { return s.getItem(enterKey()); }) === "regel") {
    store(function (s) { s.removeItem(enterKey()); });
    if (!prefs.enter) {
      prefs.enter = true;
      savePreferences({enter_nieuwe_regel: true}).catch(function () {});
    }
  }

  function enterMakesLine() { return prefs.enter; }
  function showEnterChoice() {
    var box = $("enter-nieuwe-regel");
    var hint = $("tekst-uitleg");
    var line = enterMakesLine();
    if (box) { box.checked = line; }
    if (hint) {
      hint.textContent = (line ? "Ctrl+Enter verstuurt. Enter begint een nieuwe regel." : "Enter verstuurt. Shift+Enter begint een nieuwe regel.") +
        " Typ / en het begin van een titel voor een standaardtekst.";
    }
  }
  document.addEventListener("change", function (e) {
    if (e.target && e.target.id === "enter-nieuwe-regel") {
      prefs.enter = e.target.checked;
      showEnterChoice();
      savePreferences({enter_nieuwe_regel: prefs.enter}).catch(function () {
        setChatStatus("Uw keuze is niet opgeslagen: geen verbinding met de server.");
      });
    }
    if (e.target && (e.target.id === "meldingen" || e.target.id === "geluid")) { changeNotifications(e.target); }
  });

  // --- notifications and sound (off by default; "Meldingen en geluid" in the werkbak) ----------

  function notificationStatus(text) {
    var el = $("meldingen-status");
    if (el) { el.textContent = text; }
  }
  function permissionWords() {
    if (!("Notification" in window)) { return "Deze browser kan geen meldingen tonen."; }
    if (Notification.permission === "denied") {
      return "De browser blokkeert meldingen van deze site. Sta ze toe in de instellingen van de browser.";
    }
    return "";
  }
  function changeNotifications(box) {
    var on = box.checked;
    if (box.id === "meldingen") { prefs.meldingen = on; } else { prefs.geluid = on; }
    var changes = {};
    changes[box.id] = on;
    savePreferences(changes).then(function () {
      notificationStatus(on ? (box.id === "meldingen" ? "Meldingen staan aan." : "Geluid staat aan.")
        : (box.id === "meldingen" ? "Meldingen staan uit." : "Geluid staat uit."));
      if (box.id === "meldingen" && on && "Notification" in window && Notification.permission === "default") {
        // Asked once, right after the casemanager chose it (a user action, as browsers require).
        Promise.resolve(Notification.requestPermission()).then(function () {
          var words = permissionWords();
          if (words) { notificationStatus(words); }
        });
      } else if (box.id === "meldingen" && on && permissionWords()) {
        notificationStatus(permissionWords());
      }
      if (box.id === "geluid" && on) { unlockAudio(); beep(); }  // let the casemanager hear it
    }).catch(function () {
      box.checked = !on;
      if (box.id === "meldingen") { prefs.meldingen = !on; } else { prefs.geluid = !on; }
      notificationStatus("Niet opgeslagen: geen verbinding met de server. Probeer het opnieuw.");
    });
  }
  var settingsForm = $("instellingen-form");
  if (settingsForm) {
    settingsForm.addEventListener("submit", function (e) {  // each change is saved already
      e.preventDefault();
      notificationStatus("Opgeslagen.");
    });
    if (prefs.meldingen && permissionWords()) { notificationStatus(permissionWords()); }
  }

  // A short tone (Web Audio: no sound file). Browsers let a page play sound only after the user
  // did something on it, so the context is made (or woken) at the first key or click.
  var audio = null;
  function unlockAudio() {
    var Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) { return; }
    try {
      audio = audio || new Context();
      if (audio.state === "suspended") { audio.resume(); }
    } catch (e) { audio = null; }
  }
  document.addEventListener("keydown", function () { if (prefs.geluid) { unlockAudio(); } }, true);
  document.addEventListener("pointerdown", function () { if (prefs.geluid) { unlockAudio(); } }, true);
  function beep() {
    if (!audio) { unlockAudio(); }
    if (!audio) { return; }
    try {
      var tone = audio.createOscillator();
      var volume = audio.createGain();
      tone.type = "sine";
      tone.frequency.value = 880;
      volume.gain.value = 0.08;
      tone.connect(volume);
      volume.connect(audio.destination);
      tone.start();
      tone.stop(audio.currentTime + 0.18);
    } catch (e) { /* no sound then */ }
  }

  // Only when the casemanager would not see it otherwise: the tab is hidden, or another case is
  // open. The text names only the case reference: a notification can show on a locked screen.
  function notify(ref, text, once) {
    if (!ref || (!prefs.meldingen && !prefs.geluid)) { return; }
    if (document.visibilityState === "visible" && ref === currentRef()) { return; }
    // Several open workspace tabs get the same event: one signal is enough.
    var tag = once || ref;
    var key = "werkplek:gemeld:" + me;
    var last = store(function (s) { return s.getItem(key); });
    var now = Date.now();
    if (last && last.split("|")[0] === tag && now - (parseInt(last.split("|")[1], 10) || 0) < 5000) { return; }
    store(function (s) { s.setItem(key, tag + "|" + now); });
    if (prefs.geluid) { beep(); }
    if (!prefs.meldingen || !("Notification" in window) || Notification.permission !== "granted") { return; }
    try {
      var shown = new Notification("Werkplek casemanager", {body: text, tag: "werkplek-" + ref, lang: "nl"});
      shown.onclick = function () {
        window.focus();
        if (inbox) { openCase(ref); } else { window.location.href = "/werkbak?zaak=" + encodeURIComponent(ref); }
        shown.close();
      };
    } catch (e) { /* e.g. a browser that only shows notifications from a service worker */ }
  }

  // --- keyboard ------------------------------------------------------------------------------

  document.addEventListener("keydown", function (e) {
    var target = e.target;
    // Enter sends (Shift+Enter: new line); with the per-user choice the other way round:
    // Enter is a new line and Ctrl+Enter sends.
    var send = enterMakesLine()
      ? e.key === "Enter" && (e.ctrlKey || e.metaKey) && !e.shiftKey && !e.altKey
      : e.key === "Enter" && !e.shiftKey && !e.ctrlKey && !e.altKey && !e.metaKey;
    if (target && target.id === "tekst" && target.form && target.form.id === "chat-form" && send && !e.isComposing) {
      e.preventDefault();
      var slash = /^\/(\S*)$/.exec(target.value.trim());
      if (slash) { insertByTitle(slash[1]); return; }
      target.form.requestSubmit();
      return;
    }
    if (!e.altKey || e.ctrlKey || e.metaKey) { return; }
    var handled = true;
    if (e.key === "ArrowDown" && inbox) { stepChat(1); }
    else if (e.key === "ArrowUp" && inbox) { stepChat(-1); }
    else if (e.code === "KeyN" && $("volgende-oppakken")) { $("volgende-oppakken").click(); }
    else if (e.code === "KeyB" && $("tekst")) { focusReply(); }
    else if (e.code === "KeyA" && $("uitkomst")) { $("uitkomst").focus(); }
    else { handled = false; }
    if (handled) { e.preventDefault(); }
  });

  window.addEventListener("popstate", function () {
    var ref = new URLSearchParams(window.location.search).get("zaak");
    if (ref && ref !== currentRef()) { openCase(ref, false); }
  });

  // --- the WebSocket -------------------------------------------------------------------------

  function setChatStatus(text) {
    var el = $("chat-status");
    if (el) { el.textContent = text; }
  }

  var CASE_EVENTS = ["case_mention", "case_new", "case_claimed", "case_transferred", "case_returned", "case_closed",
    "case_updated", "case_read", "queue_changed"];

  function onEvent(ev) {
    var ref = currentRef();
    if (ev.type === "message") {
      if (ev.reference === ref) { appendMessage(ev); }
      if (ev.role === "citizen" && ev.handler_id !== undefined && String(ev.handler_id) === me) {
        notify(ev.reference, "Nieuw bericht in zaak " + ev.reference, "bericht-" + ev.id);
      }
      refreshCounts();
      return;
    }
    if (ev.type === "sent") {
      var sent = sending[ev.client_id];
      delete sending[ev.client_id];
      if (sent) {
        store(function (s) { if (s.getItem(draftKey(sent.reference)) === sent.text) { s.removeItem(draftKey(sent.reference)); } });
      }
      var box = $("tekst");
      if (sent && sent.reference === ref && box) {
        setChatStatus("Verstuurd");
        box.focus();
      }
      return;
    }
    if (ev.type === "error") {
      if (ev.client_id) {
        giveBack(sending[ev.client_id]);
        delete sending[ev.client_id];
      }
      setChatStatus(ev.detail || "Niet verstuurd.");
      refreshPanel();
      return;
    }
    if (CASE_EVENTS.indexOf(ev.type) < 0) { return; }
    var byOther = String(ev.actor_id || ev.by_id) !== me;
    if (ev.type === "case_transferred" && String(ev.by_id) === me && String(ev.actor_id) !== me) {
      flash("Zaak " + ev.reference + " is aan u overgedragen.");
      notify(ev.reference, "Zaak " + ev.reference + " is aan u overgedragen", "overdracht-" + ev.reference);
    } else if (ev.type === "case_returned" && String(ev.from_id) === me && byOther) {
      flash("Zaak " + ev.reference + " is door een ander teruggezet in de wachtrij.");
    } else if (ev.type === "case_closed" && String(ev.from_id) === me && byOther) {
      flash("Zaak " + ev.reference + " is door een ander afgerond.");
    } else if (ev.type === "case_new" && ev.cause === "onderwerp" && String(ev.from_id) === me && byOther) {
      flash("Zaak " + ev.reference + " hoort na een aanpassing van het onderwerp bij een ander team en staat in hun wachtrij.");
    } else if (ev.type === "case_new" && ev.cause === "onderwerp" && String(ev.actor_id) !== me && myTeam(ev.team)) {
      flash("Zaak " + ev.reference + " hoort na een aanpassing van het onderwerp bij uw team en staat in de wachtrij.");
    } else if (ev.type === "case_updated" && ev.old_team && myTeam(ev.team) && !myTeam(ev.old_team) &&
               String(ev.by_id) !== me && String(ev.handler_id) !== me) {
      flash("Zaak " + ev.reference + " hoort na een aanpassing van het onderwerp nu bij uw team. De behandelaar blijft dezelfde.");
    } else if ((ev.type === "case_new" && ev.from_id && String(ev.from_id) === me && byOther)) {
      flash("Zaak " + ev.reference + " is door een ander overgedragen aan een team.");
    } else if (ev.type === "case_new" && ev.actor_id && String(ev.actor_id) !== me && myTeam(ev.team)) {
      flash("Zaak " + ev.reference + " is overgedragen aan uw team en staat in de wachtrij.");
    } else if (ev.type === "case_mention" && String(ev.user_id) === me) {
      flash("U bent genoemd in een notitie bij zaak " + ev.reference + ".");
    } else if (ev.type === "case_claimed" && ev.reference === ref && String(ev.by_id) !== me) {
      announce("Deze zaak is opgepakt door " + ev.by);
    }
    if (ev.reference && ev.reference === ref && ev.type !== "case_read") { refreshPanel(); }
    if (ev.type === "queue_changed" || ev.type === "case_new") { refreshQueue(); }
    if (ev.type !== "case_read") { refreshOverview(); }
    if (ev.type !== "case_read" || String(ev.by_id) === me) { refreshCounts(); }
  }

  function connect() {
    var proto = window.location.protocol === "https:" ? "wss:" : "ws:";
    var ref = currentRef();
    var url = proto + "//" + window.location.host + "/ws" + (ref ? "?case=" + encodeURIComponent(ref) : "");
    socket = new WebSocket(url);
    socket.onopen = function () {
      var reconnect = retry > 1000 || body.getAttribute("data-live") === "closed";
      retry = 1000;
      var now = currentRef();
      if (now && now !== ref) { socket.send(JSON.stringify({type: "subscribe", reference: now})); }
      body.setAttribute("data-live", "open");
      // Whatever happened while the socket was down.
      if (reconnect) { refreshPanel(); refreshQueue(); }
      refreshCounts();
    };
    socket.onmessage = function (msg) {
      var ev;
      try { ev = JSON.parse(msg.data); } catch (e) { return; }
      onEvent(ev);
    };
    socket.onclose = function (ev) {
      socket = null;
      // Not confirmed: back into the box (as before this socket), for the casemanager to send again.
      Object.keys(sending).forEach(function (id) { giveBack(sending[id]); delete sending[id]; });
      // 4401: the login session ended (logout, expiry, idle); the reload leads to the login page.
      if (ev.code === 4401) { window.location.reload(); return; }
      body.setAttribute("data-live", "closed");
      setTimeout(connect, retry);
      retry = Math.min(retry * 2, 30000);
    };
  }

  // --- start ---------------------------------------------------------------------------------

  if (panel) {
    restoreDraft();
    showEnterChoice();
    toBottom();  // the newest message in sight, not the oldest
    if (inbox && currentRef()) { focusReply(); }
  }
  tick();
  if ("WebSocket" in window && me) { connect(); }
})();
