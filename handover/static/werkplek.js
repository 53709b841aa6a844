// Live updates for the casemanager workspace. Everything also works without this script:
// forms post normally and the queue has a refresh link.
(function () {
  "use strict";
  var live = document.getElementById("live-status");
  var transcript = document.getElementById("transcript");
  var queue = document.getElementById("wachtrij");
  var chatForm = document.getElementById("chat-form");
  var reference = transcript ? transcript.getAttribute("data-reference") : null;
  var zone = transcript ? transcript.getAttribute("data-tijdzone") : null;
  var socket = null;
  var retry = 1000;

  function announce(text) { if (live) { live.textContent = text; } }

  // Same format and timezone as the server-rendered times: dd-mm-jjjj uu:mm.
  function formatTime(iso) {
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

  function appendMessage(ev) {
    if (!transcript) { return; }
    var empty = transcript.querySelector(".leeg");
    if (empty) { empty.remove(); }
    var li = document.createElement("li");
    li.className = "bericht " + ev.role;
    var who = document.createElement("span");
    who.className = "wie";
    who.textContent = ev.role === "citizen" ? "Burger" : (ev.role === "bot" ? "Chatbot" : (ev.name || "Medewerker"));
    var time = document.createElement("time");
    time.dateTime = ev.timestamp;
    time.textContent = formatTime(ev.timestamp);
    var p = document.createElement("p");
    p.textContent = ev.text;  // textContent: citizen text is never interpreted as HTML
    li.append(who, " ", time, p);
    transcript.appendChild(li);
    if (ev.role === "citizen") { announce("Nieuw bericht van de burger"); }
  }

  var refreshing = false;
  function refreshQueue() {
    if (!queue || refreshing) { return; }
    refreshing = true;
    // Marked as a refresh by the page itself: it does not count as activity (idle timeout).
    fetch(window.location.href, {credentials: "same-origin", headers: {"Accept": "text/html", "X-Background-Refresh": "1"}})
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

  function connect() {
    var proto = window.location.protocol === "https:" ? "wss:" : "ws:";
    var url = proto + "//" + window.location.host + "/ws" + (reference ? "?case=" + encodeURIComponent(reference) : "");
    socket = new WebSocket(url);
    socket.onopen = function () { retry = 1000; document.body.setAttribute("data-live", "open"); };
    socket.onmessage = function (msg) {
      var ev;
      try { ev = JSON.parse(msg.data); } catch (e) { return; }
      if (ev.type === "message" && ev.reference === reference) { appendMessage(ev); }
      else if (ev.type === "queue_changed" || ev.type === "case_new") { refreshQueue(); }
      else if (ev.type === "case_claimed" && ev.reference === reference) { announce("Deze zaak is opgepakt door " + ev.by); }
      else if (ev.type === "sent" && chatForm) { chatForm.reset(); setChatStatus("Verstuurd"); }
      else if (ev.type === "error" && chatForm) { setChatStatus(ev.detail); }
    };
    socket.onclose = function (ev) {
      socket = null;
      // 4401: the login session ended (logout, expiry, idle); the reload leads to the login page.
      if (ev.code === 4401) { window.location.reload(); return; }
      document.body.setAttribute("data-live", "closed");
      setTimeout(connect, retry);
      retry = Math.min(retry * 2, 30000);
    };
  }

  function setChatStatus(text) {
    var el = document.getElementById("chat-status");
    if (el) { el.textContent = text; }
  }

  if (chatForm) {
    chatForm.addEventListener("submit", function (e) {
      if (!socket || socket.readyState !== WebSocket.OPEN) { return; }  // plain POST fallback
      e.preventDefault();
      var text = chatForm.elements["tekst"].value;
      if (!text.trim()) { return; }
      socket.send(JSON.stringify({type: "send", reference: reference, text: text, client_id: Date.now()}));
      setChatStatus("Bezig met versturen…");
    });
  }
  if ("WebSocket" in window) { connect(); }
})();
