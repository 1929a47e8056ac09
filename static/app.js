// The merchant's pages: each element with data-live follows a server-sent event stream and swaps
// in the HTML fragments the server renders. The pages share one stream per browser and catch up
// from a fresh copy of the page whenever it (re)opens; the customer's payment page has its own
// small script, pay.js. docs/live.md tells how.
(function () {
  "use strict";

  function fragment(html) {
    var t = document.createElement("template");
    t.innerHTML = html.trim();
    return t.content.firstElementChild;
  }

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
  // back/forward cache: so the stream closes on pagehide and opens again on pageshow.
  //
  // With a shared name, the browser's tabs share one stream: the tab holding the Web Lock of
  // that name (the leader) opens it and passes its messages on over a BroadcastChannel; when the
  // leader leaves, the next tab waiting for the lock takes over. A tab that joins asks the leader
  // whether the stream is open. Every tab gets {type: "open"} each time the stream (re)opens,
  // when it may have missed changes, and should catch up then. Web Locks need a secure context
  // (https, or localhost): elsewhere each tab has its own stream.
  function follow(shared, url, names, on) {
    var me = Math.random().toString(36).slice(2);
    var conn = null, channel = null, release = null, abort = null;
    var joins = 0; // a lock granted to an earlier join of this page, since left, is let go
    function deliver(msg) {
      if (msg.type === "open") document.documentElement.dataset.live = "on";
      if (msg.type === "down") delete document.documentElement.dataset.live;
      on(msg);
    }
    function lead() {
      return new Promise(function (resolve) {
        release = resolve;
        conn = connect(url, names, function (msg) {
          if (channel) channel.postMessage(msg);
          deliver(msg);
        });
      });
    }
    function join() {
      if (!shared || !navigator.locks || !window.BroadcastChannel) {
        conn = connect(url, names, deliver);
        return;
      }
      channel = new BroadcastChannel(shared);
      channel.onmessage = function (e) {
        var msg = e.data;
        if (msg.type === "hello") {
          if (conn && conn.isOpen()) channel.postMessage({ type: "open", to: msg.from });
          return;
        }
        if (msg.to && msg.to !== me) return;
        deliver(msg);
      };
      var ticket = ++joins;
      abort = new AbortController();
      navigator.locks.request(shared, { signal: abort.signal }, function () {
        return ticket === joins && channel ? lead() : undefined;
      }).catch(function () {});
      channel.postMessage({ type: "hello", from: me });
    }
    function leave() {
      joins++;
      if (abort) abort.abort();
      if (conn) conn.close();
      if (release) release();
      if (channel) channel.close();
      conn = channel = release = abort = null;
      delete document.documentElement.dataset.live;
    }
    window.addEventListener("pagehide", leave);
    window.addEventListener("pageshow", function (e) {
      if (e.persisted) join();
    });
    join();
  }

  // fresh fetches this page again and hands its document to apply: a page catches up so after
  // its stream (re)opened, when it may have missed changes.
  function fresh(apply) {
    fetch(location.href, { cache: "no-store", credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) { apply(new DOMParser().parseFromString(html, "text/html")); })
      .catch(function () {});
  }

  function seqOf(el) { return Number((el && el.getAttribute("data-seq")) || 0); }

  // newer tells whether el should replace old: it is a later state, or the same one drawn
  // differently. Nodes are left alone otherwise, so a catch-up does not pull a row from under
  // the pointer.
  function newer(el, old) {
    return !old || seqOf(el) > seqOf(old) || (seqOf(el) === seqOf(old) && !el.isEqualNode(old));
  }

  // The merchant's pages share one stream of every order's changes (see follow). Each change
  // carries the order's list row, its status and its new timeline entries, rendered.
  function merchantStream(onChange, catchUp) {
    follow("checkout-merchant", "/orders/events", ["order", "resync"], function (msg) {
      if (msg.type === "open") catchUp();
      if (msg.type !== "event") return;
      if (msg.name === "resync") catchUp();
      else onChange(JSON.parse(msg.data));
    });
  }

  function orderPage(root) {
    var id = Number(root.getAttribute("data-order"));
    var status = document.getElementById("order-status");
    var timeline = document.getElementById("timeline");
    function setStatus(el) {
      var shown = status.querySelector("[data-seq]");
      if (el && newer(el, shown)) status.replaceChildren(el);
    }
    // Entries stay in the order's own sequence, however they arrive.
    function addEntry(li) {
      if (!li || timeline.querySelector('[data-seq="' + seqOf(li) + '"]')) return;
      var next = Array.prototype.find.call(timeline.children, function (c) { return seqOf(c) > seqOf(li); });
      timeline.insertBefore(li, next || null);
    }
    merchantStream(function (change) {
      if (change.id !== id) return;
      setStatus(fragment(change.status));
      change.timeline.forEach(function (html) { addEntry(fragment(html)); });
    }, function () {
      fresh(function (doc) {
        var st = doc.querySelector("#order-status [data-seq]");
        if (st) setStatus(document.importNode(st, true));
        doc.querySelectorAll("#timeline > li").forEach(function (li) { addEntry(document.importNode(li, true)); });
      });
    });
  }

  function orderList(table) {
    var body = table.querySelector("tbody");
    var prepend = table.getAttribute("data-prepend") === "1";
    function setRow(row, add) {
      if (!row) return;
      var old = document.getElementById(row.id);
      if (old && newer(row, old)) old.replaceWith(row);
      else if (!old && add) body.insertBefore(row, body.firstChild);
    }
    merchantStream(function (change) {
      setRow(fragment(change.row), prepend);
    }, function () {
      fresh(function (doc) {
        var rows = Array.prototype.slice.call(doc.querySelectorAll("#order-rows > tr")).reverse();
        rows.forEach(function (row) { setRow(document.importNode(row, true), prepend); });
      });
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
    var order = document.getElementById("order-live");
    if (order) orderPage(order);
    var list = document.querySelector("table[data-live]");
    if (list) orderList(list);
    copyButtons();
    confirmForms();
  });
})();
