// Live plan pages: the socket's state shown in words, sequence numbers checked, regions
// re-fetched after a gap or a reconnect, chart points appended, times shown relative.
(function () {
  "use strict";

  var body = document.body;
  var lastSeq = Number(body.dataset.seq || 0);
  var everOpen = false;
  var resyncing = false;
  var again = false; // a gap seen while a re-sync was in flight: re-sync once more after it

  function status(state, text) {
    var el = document.getElementById("socket-status");
    if (!el) return;
    el.className = "socket-status socket-" + state;
    el.textContent = text;
    body.dataset.socket = state;
  }

  function resync() {
    var url = body.dataset.regionsUrl;
    if (!url || !window.htmx) return;
    if (resyncing) {
      again = true;
      return;
    }
    resyncing = true;
    htmx.ajax("GET", url, { swap: "none", source: body }).finally(function () {
      resyncing = false;
      if (again) {
        again = false;
        resync();
      }
    });
  }

  // A re-sync answer is the state as of its X-Live-Seq. If a newer message was applied
  // while it travelled, its regions may be older than the page: drop it and ask again.
  document.addEventListener("htmx:beforeSwap", function (e) {
    var seq = e.detail.xhr && e.detail.xhr.getResponseHeader("X-Live-Seq");
    if (seq === null || seq === undefined || seq === "") return;
    if (Number(seq) < lastSeq) {
      e.detail.shouldSwap = false;
      again = true;
      return;
    }
    lastSeq = Number(seq);
    body.dataset.seq = String(lastSeq);
  });

  // Buttons post through htmx from the body, not from their form: a live update may replace
  // the region holding the form while the request is in flight, and htmx drops the answer
  // of a request whose element left the page (the flash message would be lost).
  var posting = null;
  document.addEventListener("submit", function (e) {
    var form = e.target;
    if (!window.htmx || !form.matches("form[data-live-form]")) return;
    e.preventDefault();
    var values = {};
    new FormData(form).forEach(function (value, name) { values[name] = value; });
    posting = { form: form, ids: [] };
    form.querySelectorAll("input[id], textarea[id]").forEach(function (el) { posting.ids.push(el.id); });
    htmx.ajax("POST", form.getAttribute("action"), { source: body, values: values, swap: "none" });
  });

  document.addEventListener("htmx:afterRequest", function (e) {
    // The emergency form closes once the server took it.
    if (!e.detail.requestConfig || e.detail.requestConfig.verb !== "post") return;
    var sent = posting;
    posting = null;
    if (!sent || !e.detail.successful) return;
    // Done: what was typed for it is cleared, in the form or in the one a live swap put there.
    sent.ids.forEach(function (id) {
      var el = document.getElementById(id);
      if (el) el.value = el.defaultValue;
    });
    var form = sent.form;
    if (form.id === "emergency-form") {
      form.reset();
      var details = document.getElementById("emergency");
      if (details) details.open = false;
    }
  });

  // The server asks for a re-sync after a button did something (HX-Trigger: sy:resync).
  document.addEventListener("sy:resync", resync);

  document.addEventListener("htmx:wsOpen", function () {
    status("open", "● Live: updates arrive as they happen");
    if (everOpen) resync(); // reconnected: whatever happened meanwhile was not sent to us
    everOpen = true;
  });

  document.addEventListener("htmx:wsClose", function (e) {
    var code = e.detail.event && e.detail.event.code;
    if (code === 4401 || code === 4403 || code === 4404) {
      status("refused", "✖ Live updates refused (" + code + "): log in again or reload the page");
    } else {
      status("lost", "⚠ Live updates lost: reconnecting. What you see may be out of date.");
    }
  });

  document.addEventListener("htmx:wsBeforeMessage", function (e) {
    var message = e.detail.message;
    if (message.charAt(0) === "{") {
      e.preventDefault(); // JSON: never HTML to swap
      var data = JSON.parse(message);
      if (data.hello) {
        if (data.seq > lastSeq) resync();
        return;
      }
      if (data.charts) {
        data.charts.forEach(appendPoints); // an event's points, before its numbered message
        return;
      }
      if (!accept(data.seq)) return;
      if (data.chart) appendPoints(data.chart);
      return;
    }
    var match = /^<!--seq:(\d+)-->/.exec(message);
    if (match && !accept(Number(match[1]))) e.preventDefault();
  });

  // --- What the reader was doing survives a live swap ----------------------------------------
  // A region swapped in while an operator types a reason would lose the text, the open
  // "Set percentage" panel and the focus. They are kept by id across each swap.
  var kept = null;
  function keep() {
    kept = { open: [], values: {}, focus: document.activeElement && document.activeElement.id };
    document.querySelectorAll("details[id][open]").forEach(function (d) { kept.open.push(d.id); });
    document.querySelectorAll("input[id], textarea[id], select[id]").forEach(function (el) {
      if (el.type !== "hidden" && el.value !== el.defaultValue) kept.values[el.id] = el.value;
    });
  }
  function restore() {
    if (!kept) return;
    kept.open.forEach(function (id) { var d = document.getElementById(id); if (d) d.open = true; });
    Object.keys(kept.values).forEach(function (id) {
      var el = document.getElementById(id);
      if (el && el.value === el.defaultValue) el.value = kept.values[id];
    });
    var focus = kept.focus && document.getElementById(kept.focus);
    if (focus && document.activeElement !== focus) focus.focus();
    kept = null;
  }
  document.addEventListener("htmx:wsBeforeMessage", keep);
  document.addEventListener("htmx:wsAfterMessage", restore);
  document.addEventListener("htmx:beforeSwap", keep);
  document.addEventListener("htmx:afterSettle", restore);

  // Applies a message numbered `seq`: false for one already covered; a gap means a message
  // was lost, so after applying this one the page fetches all its regions.
  function accept(seq) {
    if (!seq) return true;
    if (seq <= lastSeq) return false;
    var gap = seq > lastSeq + 1;
    lastSeq = seq;
    body.dataset.seq = String(seq);
    if (gap) resync();
    return true;
  }

  // --- Charts: figures built on the server, drawn here, extended in place -------------------
  function drawCharts(root) {
    if (!window.Plotly) return;
    (root || document).querySelectorAll(".chart[data-figure]").forEach(function (el) {
      if (el.dataset.drawn) return;
      var source = document.getElementById(el.dataset.figure);
      if (!source) return;
      var figure = JSON.parse(source.textContent);
      el.dataset.drawn = "1";
      Plotly.newPlot(el, figure.data, figure.layout, { displaylogo: false, responsive: true });
    });
  }

  function lastX(el, trace) {
    var xs = el.data[trace] && el.data[trace].x;
    return xs && xs.length ? new Date(xs[xs.length - 1]).getTime() : -Infinity;
  }

  function appendPoints(chart) {
    var el = document.getElementById(chart.chart);
    if (!el || !window.Plotly || !el.data) return;
    var traces = chart.traces || chart.y.map(function (_, i) { return i; });
    // A point already drawn (a re-sent bucket) is not drawn twice.
    var at = new Date(chart.x[chart.x.length - 1]).getTime();
    var fresh = traces.filter(function (t) { return at > lastX(el, t); });
    if (!fresh.length) return;
    var ys = fresh.map(function (t) { return chart.y[traces.indexOf(t)]; });
    Plotly.extendTraces(el, { x: fresh.map(function () { return chart.x; }), y: ys }, fresh, chart.max_points || 2000);
  }

  // --- Times: relative, the exact time stays in the title (shown on hover) ---------------
  function relative(date) {
    var seconds = Math.round((date.getTime() - Date.now()) / 1000);
    var future = seconds > 0;
    var s = Math.abs(seconds);
    var text;
    if (s < 45) text = s + " s";
    else if (s < 3600) text = Math.round(s / 60) + " min";
    else if (s < 86400 * 2) text = Math.floor(s / 3600) + " h " + Math.round((s % 3600) / 60) + " min";
    else text = Math.round(s / 86400) + " days";
    return future ? "in " + text : text + " ago";
  }

  function refreshTimes(root) {
    (root || document).querySelectorAll("time[data-relative]").forEach(function (el) {
      var date = new Date(el.getAttribute("datetime"));
      if (!isNaN(date)) el.textContent = relative(date);
    });
  }

  document.addEventListener("htmx:load", function (e) { refreshTimes(e.detail.elt); drawCharts(e.detail.elt); });
  document.addEventListener("htmx:oobAfterSwap", function (e) { refreshTimes(e.detail.target); drawCharts(e.detail.target); });
  document.addEventListener("htmx:wsAfterMessage", function () { refreshTimes(); });
  document.addEventListener("click", function (e) {
    if (e.target.matches("[data-dismiss-flash]")) e.target.closest(".flash").remove();
  });
  document.addEventListener("DOMContentLoaded", function () { refreshTimes(); drawCharts(); });
  window.addEventListener("load", function () { drawCharts(); }); // Plotly is deferred too
  // Every second: countdowns (next rollout step, rollback windows) are read in seconds.
  setInterval(refreshTimes, 1000);
})();
