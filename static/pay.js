// The customer's pages: the payment page follows its order's event stream and swaps in the
// status the server renders; it counts down the expiry and the return to the shop, writes
// times in the reader's zone and shows the receipt's Print button. Only this, so that a phone on
// a slow network fetches little: the merchant's pages have app.js, which follows its streams the
// same way (connect is the same function) and shares them between tabs. docs/live.md tells how.
(function () {
  "use strict";

  // connect follows an event stream, reopening it with backoff when it is closed (an error
  // answer, a proxy cutting it) and when the tab becomes visible again. emit gets
  // {type: "open"}, {type: "down"} and {type: "event", name, data, id} for each name in names.
  function connect(url, names, emit) {
    var source = null;
    var delay = 1000;
    var timer = null;
    function open() {
      clearTimeout(timer);
      if (source) source.close();
      source = new EventSource(typeof url === "function" ? url() : url);
      source.onopen = function () {
        delay = 1000;
        emit({ type: "open" });
      };
      names.forEach(function (name) {
        source.addEventListener(name, function (e) {
          emit({ type: "event", name: name, data: e.data, id: e.lastEventId });
        });
      });
      source.onerror = function () {
        emit({ type: "down" });
        // The browser retries by itself while the stream is CONNECTING; a CLOSED one
        // is ours to reopen, with backoff.
        if (source.readyState === EventSource.CLOSED) {
          timer = setTimeout(open, delay);
          delay = Math.min(delay * 2, 30000);
        }
      };
    }
    function visible() {
      if (document.visibilityState === "visible" && (!source || source.readyState === EventSource.CLOSED)) {
        open();
      }
    }
    document.addEventListener("visibilitychange", visible);
    open();
    return {
      isOpen: function () { return !!source && source.readyState === EventSource.OPEN; },
      close: function () {
        clearTimeout(timer);
        document.removeEventListener("visibilitychange", visible);
        if (source) source.close();
        source = null;
      },
    };
  }

  // follow follows an event stream while the page is shown. Over HTTP/1.1 a browser opens at
  // most six connections to a host, and each open stream holds one, also in pages kept in the
  // back/forward cache: so the stream closes on pagehide and opens again on pageshow. on gets
  // {type: "open"} each time the stream (re)opens.
  function follow(url, names, on) {
    var conn = null;
    function deliver(msg) {
      if (msg.type === "open") document.documentElement.dataset.live = "on";
      if (msg.type === "down") delete document.documentElement.dataset.live;
      on(msg);
    }
    function join() {
      conn = connect(url, names, deliver);
    }
    function leave() {
      if (conn) conn.close();
      conn = null;
      delete document.documentElement.dataset.live;
    }
    window.addEventListener("pagehide", leave);
    window.addEventListener("pageshow", function (e) {
      if (e.persisted) join();
    });
    join();
  }

  function payPage(root) {
    var status = document.getElementById("pay-status");
    var lang = document.documentElement.lang || "en";
    // Each open of this stream sends the current state first, in this page's language.
    var url = location.pathname.replace(/\/$/, "") + "/events?lang=" + encodeURIComponent(lang);
    // What the server last sent, as sent: the page changes its own copy (local times, the
    // countdown), so that copy cannot tell whether an event brings news.
    var shown = status.innerHTML.trim();
    follow(url, ["state"], function (msg) {
      if (msg.type === "open") {
        var note = document.getElementById("live-note");
        if (note) note.hidden = false;
      }
      if (msg.type !== "event") return;
      if (shown !== msg.data.trim()) {
        shown = msg.data.trim();
        status.innerHTML = msg.data;
        receipt(status);
        localTimes(status, lang);
        backToShop(status);
      }
    });
    receipt(status);
    localTimes(document, lang);
    countdown(status, lang);
    backToShop(status);
  }

  // A finished order that came from a shop goes back there by itself after a short countdown,
  // which the customer can stop; the link stays (and is all there is without JavaScript). The
  // words come with the page, in its language.
  // One countdown per page: a status drawn again (a later event) replaces the old one, and a
  // customer who chose to stay is never taken away by it.
  var back = { timer: null, stayed: false };
  function backToShop(status) {
    clearInterval(back.timer);
    back.timer = null;
    var secs = status.querySelector("[data-back-seconds]");
    if (!secs) return;
    var link = status.querySelector("[data-back-link]");
    var note = status.querySelector("[data-back-note]");
    var stop = status.querySelector("[data-back-stop]");
    var left = Number(secs.getAttribute("data-back-seconds"));
    note.hidden = false;
    if (back.stayed) {
      note.textContent = stop.getAttribute("data-stayed");
      return;
    }
    stop.hidden = false;
    back.timer = setInterval(function () {
      left--;
      if (left <= 0) {
        clearInterval(back.timer);
        location.assign(link.href);
        return;
      }
      secs.textContent = String(left);
    }, 1000);
    stop.addEventListener("click", function () {
      clearInterval(back.timer);
      back.timer = null;
      back.stayed = true;
      note.textContent = stop.getAttribute("data-stayed");
      stop.hidden = true;
    });
  }

  // The server writes times in the shop's time zone, with the ISO time beside them: the reader
  // sees them in their own zone and language.
  function localTimes(root, lang) {
    if (!window.Intl) return;
    var f = new Intl.DateTimeFormat(lang, { dateStyle: "medium", timeStyle: "medium" });
    root.querySelectorAll("time[data-local]").forEach(function (el) {
      var at = Date.parse(el.getAttribute("datetime"));
      if (!isNaN(at)) el.textContent = f.format(new Date(at));
    });
  }

  // The expiry line counts down its last minutes; before, it says the minutes left and the
  // time in the reader's zone. The server renders the expiry time, its own clock and the
  // line's words in the page's language (with {clock}, {count} and {time} to fill in; the
  // minutes in each plural form of the language); the difference to this device's clock is
  // kept, so a wrong phone clock does not matter. Without JavaScript the line shows what the
  // server rendered.
  function countdown(status, lang) {
    var skew = null;
    var plural = window.Intl && Intl.PluralRules ? new Intl.PluralRules(lang) : null;
    var clockOf = window.Intl ? new Intl.DateTimeFormat(lang, { hour: "numeric", minute: "2-digit" }) : null;
    function pad(n) { return (n < 10 ? "0" : "") + n; }
    function tick() {
      var el = status.querySelector("[data-expires-at]");
      if (!el) return;
      var expires = Date.parse(el.getAttribute("data-expires-at"));
      var serverNow = Date.parse(el.getAttribute("data-now"));
      if (skew === null || el.getAttribute("data-now") !== el.dataset.seenNow) {
        skew = serverNow - Date.now();
        el.dataset.seenNow = el.getAttribute("data-now");
      }
      var left = Math.ceil((expires - (Date.now() + skew)) / 1000);
      var from = Number(el.getAttribute("data-countdown-from") || 600);
      var text;
      if (left <= 0) {
        text = el.getAttribute("data-text-expired");
      } else if (left <= from) {
        text = el.getAttribute("data-text-countdown").replace("{clock}", Math.floor(left / 60) + ":" + pad(left % 60));
        el.classList.add("soon");
      } else {
        var forms = {};
        try { forms = JSON.parse(el.getAttribute("data-text-minutes") || "{}"); } catch (e) { return; }
        var minutes = Math.ceil(left / 60);
        var form = forms[plural ? plural.select(minutes) : "other"] || forms.other;
        if (!form || !clockOf) return;
        text = form.replace("{count}", String(minutes)).replace("{time}", clockOf.format(new Date(expires)));
      }
      if (text && el.textContent.trim() !== text) el.textContent = text;
    }
    tick();
    setInterval(tick, 1000);
  }

  // A paid page is a receipt: its Print button appears only where it works.
  function receipt(status) {
    var btn = status.querySelector("[data-print]");
    if (!btn || !window.print) return;
    btn.hidden = false;
    btn.addEventListener("click", function () { window.print(); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var pay = document.getElementById("pay-live");
    if (pay) payPage(pay);
  });
})();
