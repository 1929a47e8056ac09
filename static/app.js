// Live pages: each element with data-live follows a server-sent event stream and swaps in the
// HTML fragments the server renders. The server always sends the current state first, so a
// reconnect (automatic, or when the tab becomes visible again) shows the truth.
(function () {
  "use strict";

  function fragment(html) {
    var t = document.createElement("template");
    t.innerHTML = html.trim();
    return t.content.firstElementChild;
  }

  function follow(url, handlers) {
    var source = null;
    var delay = 1000;
    var timer = null;
    function open() {
      clearTimeout(timer);
      if (source) source.close();
      source = new EventSource(typeof url === "function" ? url() : url);
      source.onopen = function () {
        delay = 1000;
        var note = document.getElementById("live-note");
        if (note) note.hidden = false;
      };
      Object.keys(handlers).forEach(function (name) {
        source.addEventListener(name, function (e) {
          handlers[name](e.data, e.lastEventId);
        });
      });
      source.onerror = function () {
        // The browser retries by itself while the stream is CONNECTING; a CLOSED one
        // (an error answer, or a proxy cutting it) is ours to reopen, with backoff.
        if (source.readyState === EventSource.CLOSED) {
          timer = setTimeout(open, delay);
          delay = Math.min(delay * 2, 30000);
        }
      };
    }
    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "visible" && (!source || source.readyState === EventSource.CLOSED)) {
        open();
      }
    });
    open();
  }

  function payPage(root) {
    var status = document.getElementById("pay-status");
    follow(location.pathname.replace(/\/$/, "") + "/events", {
      state: function (html) {
        if (status.innerHTML.trim() !== html.trim()) {
          status.innerHTML = html;
          receipt(status);
          backToShop(status);
        }
      },
    });
    receipt(status);
    countdown(status);
    backToShop(status);
  }

  // A finished order that came from a shop goes back there by itself after a short countdown,
  // which the customer can stop; the link stays (and is all there is without JavaScript).
  function backToShop(status) {
    var secs = status.querySelector("[data-back-seconds]");
    if (!secs) return;
    var link = status.querySelector("[data-back-link]");
    var note = status.querySelector("[data-back-note]");
    var stop = status.querySelector("[data-back-stop]");
    var left = Number(secs.getAttribute("data-back-seconds"));
    note.hidden = false;
    stop.hidden = false;
    var timer = setInterval(function () {
      left--;
      if (left <= 0) {
        clearInterval(timer);
        location.assign(link.href);
        return;
      }
      secs.textContent = String(left);
    }, 1000);
    stop.addEventListener("click", function () {
      clearInterval(timer);
      note.textContent = "You stay on this page.";
      stop.hidden = true;
    });
  }

  // The expiry line counts down its last minutes. The server renders the expiry time and its
  // own clock; the difference to this device's clock is kept, so a wrong phone clock does not
  // matter. Without JavaScript the line shows what the server rendered.
  function countdown(status) {
    var skew = null;
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
        text = "This request has expired.";
      } else if (left <= from) {
        text = "Expires in " + Math.floor(left / 60) + ":" + pad(left % 60) + ".";
        el.classList.add("soon");
      } else {
        var at = new Date(expires);
        text = "Approve by " + pad(at.getHours()) + ":" + pad(at.getMinutes()) + ".";
      }
      if (el.textContent.trim() !== text) el.textContent = text;
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

  function orderPage(root) {
    var status = document.getElementById("order-status");
    var timeline = document.getElementById("timeline");
    var base = root.getAttribute("data-live").split("?")[0];
    var last = Number(new URL(root.getAttribute("data-live"), location.href).searchParams.get("after") || 0);
    follow(function () { return base + "?after=" + last; }, {
      state: function (html) { status.innerHTML = html; },
      timeline: function (html, id) {
        var li = fragment(html);
        if (!li) return;
        var seq = Number(li.getAttribute("data-seq"));
        if (timeline.querySelector('[data-seq="' + seq + '"]')) return;
        timeline.appendChild(li);
        if (seq > last) last = seq;
      },
    });
  }

  function orderList(table) {
    var body = table.querySelector("tbody");
    var prepend = table.getAttribute("data-prepend") === "1";
    follow(table.getAttribute("data-live"), {
      order: function (html) {
        var row = fragment(html);
        if (!row) return;
        var old = document.getElementById(row.id);
        if (old) old.replaceWith(row);
        else if (prepend) body.insertBefore(row, body.firstChild);
      },
      // The server fell too far behind to patch rows: start over from the truth.
      reload: function () { location.reload(); },
    });
  }

  // Forms that undo something ask first.
  function confirmForms() {
    document.querySelectorAll("form[data-confirm]").forEach(function (form) {
      form.addEventListener("submit", function (e) {
        if (!window.confirm(form.getAttribute("data-confirm"))) e.preventDefault();
      });
    });
  }

  function copyButtons() {
    document.querySelectorAll("[data-copy]").forEach(function (btn) {
      btn.addEventListener("click", function () {
        var input = document.getElementById(btn.getAttribute("data-copy"));
        var done = function () {
          btn.textContent = "Copied";
          setTimeout(function () { btn.textContent = "Copy"; }, 2000);
        };
        if (navigator.clipboard && window.isSecureContext) {
          navigator.clipboard.writeText(input.value).then(done, function () { input.select(); });
        } else {
          input.select();
          document.execCommand("copy");
          done();
        }
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var pay = document.getElementById("pay-live");
    if (pay) payPage(pay);
    var order = document.getElementById("order-live");
    if (order) orderPage(order);
    var list = document.querySelector("table[data-live]");
    if (list) orderList(list);
    copyButtons();
    confirmForms();
  });
})();
