"""The report's inline JavaScript: draws every series on ``<canvas>`` from the embedded JSON.

Contract with the page (checked by the browser test): after drawing every plot the script sets
``document.body.dataset.rendered`` to ``"ok"``, or to ``"error"`` with the messages in
``document.body.dataset.errors``. It loads nothing from the network.
"""

JS = r"""
(function () {
  "use strict";
  var errors = [];
  function fail(where, err) {
    var msg = where + ": " + (err && err.message ? err.message : String(err));
    errors.push(msg);
    document.body.dataset.errors = errors.join(" | ");
    document.body.dataset.rendered = "error";
    var box = document.getElementById("render-errors");
    if (box) { box.style.display = "block"; box.textContent = "Some plots failed: " + errors.join("; "); }
  }
  window.addEventListener("error", function (e) { fail("script", e.error || e.message); });

  var DATA = JSON.parse(document.getElementById("edgewatch-data").textContent);
  var ML = 150, MR = 18;
  var COL = { score: "#1f77b4", thr: "#e0620d", alert: "#d62728", axis: "#98a2b3",
              grid: "#edf0f4", text: "#475467", dark: "#1d2330", sus: "#1d2330" };
  var FONT = "12px system-ui, -apple-system, 'Segoe UI', Roboto, Arial, sans-serif";
  var STEPS = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120,
               300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800, 1209600,
               2592000, 7776000, 31536000];
  var VIRIDIS = ["#440154", "#472d7b", "#3b528b", "#2c728e", "#21918c", "#28ae80", "#5ec962",
                 "#addc30", "#fde725"];

  // ---------------------------------------------------------------- helpers
  function fmtNum(v) {
    if (v === null || v === undefined || !isFinite(v)) return "\u2013";
    var a = Math.abs(v);
    if (a !== 0 && (a < 1e-3 || a >= 1e5)) return v.toExponential(1).replace("e+", "e");
    return String(+v.toPrecision(3));
  }
  function fmtDur(s) {
    if (s === null || s === undefined || !isFinite(s)) return "\u2013";
    if (s < 120) return (+s.toPrecision(3)) + " s";
    if (s < 7200) return (s / 60).toFixed(1) + " min";
    if (s < 172800) return (s / 3600).toFixed(1) + " h";
    return (s / 86400).toFixed(1) + " d";
  }
  function absTime(S, rel) { return S.epoch ? S.t0 + rel : rel; }
  function fmtTime(S, rel) {
    if (S.epoch) return new Date((S.t0 + rel) * 1000).toISOString().slice(0, 23).replace("T", " ");
    return fmtNum(rel) + " s";
  }
  function bsearch(arr, x) {  // index of the last element <= x, or -1
    var lo = 0, hi = arr.length - 1, ans = -1;
    while (lo <= hi) {
      var mid = (lo + hi) >> 1;
      if (arr[mid] <= x) { ans = mid; lo = mid + 1; } else { hi = mid - 1; }
    }
    return ans;
  }
  function hexToRgb(h) {
    return [parseInt(h.slice(1, 3), 16), parseInt(h.slice(3, 5), 16), parseInt(h.slice(5, 7), 16)];
  }
  function rgba(h, a) {
    var c = hexToRgb(h);
    return "rgba(" + c[0] + "," + c[1] + "," + c[2] + "," + a + ")";
  }
  var VIR_RGB = VIRIDIS.map(hexToRgb);
  function viridis(f) {
    f = Math.max(0, Math.min(1, f)) * (VIR_RGB.length - 1);
    var i = Math.min(Math.floor(f), VIR_RGB.length - 2), u = f - i, a = VIR_RGB[i], b = VIR_RGB[i + 1];
    return "rgb(" + Math.round(a[0] + (b[0] - a[0]) * u) + "," + Math.round(a[1] + (b[1] - a[1]) * u) +
      "," + Math.round(a[2] + (b[2] - a[2]) * u) + ")";
  }
  function setup(cv, W, H) {
    var dpr = window.devicePixelRatio || 1;
    cv.width = Math.round(W * dpr); cv.height = Math.round(H * dpr);
    cv.style.height = H + "px";
    var ctx = cv.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.font = FONT;
    ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, W, H);
    return ctx;
  }
  var HATCH = null;
  function hatch(ctx) {
    if (!HATCH) {
      var c = document.createElement("canvas"); c.width = 8; c.height = 8;
      var g = c.getContext("2d");
      g.strokeStyle = rgba(COL.alert, 0.42); g.lineWidth = 1.4;
      g.beginPath(); g.moveTo(-2, 10); g.lineTo(10, -2); g.moveTo(6, 10); g.lineTo(10, 6);
      g.moveTo(-2, 2); g.lineTo(2, -2); g.stroke();
      HATCH = c;
    }
    return ctx.createPattern(HATCH, "repeat");
  }

  // ---------------------------------------------------------------- axes
  function timeTicks(S, a, b, px) {
    var want = Math.max(2, Math.floor(px / 105)), A = absTime(S, a), B = absTime(S, b);
    var step = STEPS[STEPS.length - 1];
    for (var i = 0; i < STEPS.length; i++) { if ((B - A) / STEPS[i] <= want) { step = STEPS[i]; break; } }
    var out = [], first = Math.ceil(A / step) * step;
    for (var k = 0; first + k * step <= B + 1e-9 && k < 200; k++) out.push(first + k * step);
    return { step: step, ticks: out };
  }
  function tickLabel(S, v, step, prevDay) {
    if (S.epoch) {
      var iso = new Date(v * 1000).toISOString();
      if (step >= 86400) return [iso.slice(0, 10), ""];
      var time = step >= 60 ? iso.slice(11, 16) : step >= 1 ? iso.slice(11, 19) : iso.slice(11, 23);
      var day = iso.slice(0, 10);
      return [time, day !== prevDay ? day : ""];
    }
    return [fmtRel(v, step), ""];
  }
  function fmtRel(v, step) {  // "45 s", "1 min 15 s", "2 h 30 min", "1 d 6 h"
    if (step < 1 || (v < 60 && v !== Math.round(v))) return fmtNum(v) + " s";
    var parts = [], r = Math.round(v), units = [[86400, "d"], [3600, "h"], [60, "min"], [1, "s"]];
    units.forEach(function (u) {
      var q = Math.floor(r / u[0]);
      r -= q * u[0];
      if (q > 0 && parts.length < 2) parts.push(q + " " + u[1]);
    });
    return parts.length ? parts.join(" ") : "0";
  }
  function drawTimeAxis(ctx, S, g, y) {
    var tk = timeTicks(S, g.a, g.b, g.right - g.left), prevDay = null;
    ctx.fillStyle = COL.text; ctx.strokeStyle = COL.axis; ctx.textAlign = "center"; ctx.textBaseline = "top";
    ctx.beginPath(); ctx.moveTo(g.left, y + 0.5); ctx.lineTo(g.right, y + 0.5); ctx.stroke();
    tk.ticks.forEach(function (v) {
      var x = g.left + (v - absTime(S, g.a)) / (g.b - g.a) * (g.right - g.left);
      var xp = Math.round(x) + 0.5;
      ctx.beginPath(); ctx.moveTo(xp, y); ctx.lineTo(xp, y + 4); ctx.stroke();
      var lab = tickLabel(S, v, tk.step, prevDay);
      ctx.fillText(lab[0], x, y + 6);
      if (lab[1]) { ctx.fillStyle = COL.axis; ctx.fillText(lab[1], x, y + 20); ctx.fillStyle = COL.text; }
      if (S.epoch) prevDay = new Date(v * 1000).toISOString().slice(0, 10);
    });
    return tk;
  }
  function niceStep(raw) {
    var mag = Math.pow(10, Math.floor(Math.log10(raw))), m = [1, 2, 2.5, 5, 10];
    for (var i = 0; i < m.length; i++) { if (m[i] * mag >= raw) return m[i] * mag; }
    return 10 * mag;
  }
  function yTicks(lo, hi, log) {
    var out = [];
    if (log) {
      var a = Math.floor(Math.log10(lo)), b = Math.ceil(Math.log10(hi)), every = b - a > 8 ? 2 : 1;
      for (var k = a; k <= b; k++) {
        var base = Math.pow(10, k);
        if ((k - a) % every === 0 && base >= lo && base <= hi) out.push([base, true]);
        if (b - a <= 2) {
          [2, 5].forEach(function (m) { if (base * m >= lo && base * m <= hi) out.push([base * m, false]); });
        }
      }
      return out;
    }
    var step = niceStep((hi - lo) / 5);
    for (var v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) {
      out.push([Math.abs(v) < step * 1e-9 ? 0 : v, true]);
    }
    return out;
  }

  // ---------------------------------------------------------------- score plot
  function yRange(S, a, b, log) {
    var sc = S.score, lo = Infinity, hi = -Infinity, i;
    function take(v) { if (v === null || (log && v <= 0)) return; if (v < lo) lo = v; if (v > hi) hi = v; }
    var sv = S.sustained ? S.sustained.v : null;  // the sustained level shares the score's bins
    for (i = 0; i < sc.t.length; i++) {
      if (sc.t[i] < a || sc.t[i] > b) continue;
      take(sc.lo[i]); take(sc.hi[i]);
      if (sv) take(sv[i]);
    }
    var j0 = Math.max(0, bsearch(sc.thr_t, a));
    for (i = j0; i < sc.thr_t.length && sc.thr_t[i] <= b; i++) take(sc.thr_v[i]);
    if (!isFinite(lo)) { lo = log ? 0.1 : 0; hi = 1; }
    if (log) {
      var l0 = Math.log10(lo), l1 = Math.log10(hi), p = Math.max(0.06 * (l1 - l0), 0.15);
      return [Math.pow(10, l0 - p), Math.pow(10, l1 + p)];
    }
    if (hi === lo) { hi = lo + 1; }
    if (lo >= 0 && lo < 0.25 * hi) lo = 0; else lo -= 0.05 * (hi - lo);
    return [lo, hi + 0.07 * (hi - lo)];
  }

  // The sustained level (scaled to the threshold) as a dotted line through the score's bins from i0 on,
  // broken where the score line breaks (brk) or a bin has no level; a lone point is drawn as a dot.
  function drawLevel(ctx, sc, sv, brk, i0, b, X, Y) {
    var run = [], k;
    function flush() {
      if (run.length === 1) {
        ctx.beginPath(); ctx.arc(X(sc.t[run[0]]), Y(sv[run[0]]), 1.8, 0, 2 * Math.PI); ctx.fill();
      } else if (run.length > 1) {
        ctx.beginPath(); ctx.moveTo(X(sc.t[run[0]]), Y(sv[run[0]]));
        for (var q = 1; q < run.length; q++) ctx.lineTo(X(sc.t[run[q]]), Y(sv[run[q]]));
        ctx.stroke();
      }
      run = [];
    }
    ctx.save();
    ctx.strokeStyle = COL.sus; ctx.fillStyle = COL.sus; ctx.lineWidth = 2; ctx.lineJoin = "round";
    ctx.setLineDash([2, 3]);
    for (k = i0; k < sc.t.length; k++) {
      if (sv[k] === null || brk[k]) flush();
      if (sv[k] !== null) run.push(k);
      if (sc.t[k] > b) break;
    }
    flush();
    ctx.restore();
  }

  function drawScore(S, st) {
    var cv = st.scoreCanvas, W = Math.max(cv.parentNode.clientWidth, 400), H = 360;
    var ctx = setup(cv, W, H);
    var g = { left: ML, right: W - MR, top: 60, bottom: H - 46, a: st.view[0], b: st.view[1],
              laneF: [8, 26], laneA: [32, 48] };
    var X = function (t) { return g.left + (t - g.a) / (g.b - g.a) * (g.right - g.left); };
    var yr = yRange(S, g.a, g.b, st.log), ph = g.bottom - g.top;
    var Y = st.log
      ? function (v) {
          var l0 = Math.log10(yr[0]), l1 = Math.log10(yr[1]);
          return g.bottom - (Math.log10(Math.max(v, yr[0])) - l0) / (l1 - l0) * ph;
        }
      : function (v) { return g.bottom - (v - yr[0]) / (yr[1] - yr[0]) * ph; };
    g.X = X; g.Y = Y; g.yr = yr; st.g = g;

    // y grid and labels
    ctx.textAlign = "right"; ctx.textBaseline = "middle";
    yTicks(yr[0], yr[1], st.log).forEach(function (tk) {
      var y = Math.round(Y(tk[0])) + 0.5;
      ctx.strokeStyle = tk[1] ? COL.grid : "#f5f6f8";
      ctx.beginPath(); ctx.moveTo(g.left, y); ctx.lineTo(g.right, y); ctx.stroke();
      ctx.fillStyle = tk[1] ? COL.text : COL.axis;
      ctx.fillText(fmtNum(tk[0]), g.left - 7, y);
    });
    ctx.save();
    ctx.translate(16, (g.top + g.bottom) / 2); ctx.rotate(-Math.PI / 2);
    ctx.textAlign = "center"; ctx.fillStyle = COL.text;
    ctx.fillText("anomaly score" + (st.log ? " (log scale)" : ""), 0, 0);
    ctx.restore();

    // lanes
    ctx.textAlign = "right"; ctx.textBaseline = "middle"; ctx.fillStyle = COL.text;
    ctx.fillText("labelled faults", g.left - 7, (g.laneF[0] + g.laneF[1]) / 2);
    ctx.fillText("alerts", g.left - 7, (g.laneA[0] + g.laneA[1]) / 2);
    ctx.fillStyle = "#f4f5f7";
    ctx.fillRect(g.left, g.laneF[0], g.right - g.left, g.laneF[1] - g.laneF[0]);
    ctx.fillRect(g.left, g.laneA[0], g.right - g.left, g.laneA[1] - g.laneA[0]);
    if (!S.labelled) {
      ctx.textAlign = "left"; ctx.fillStyle = COL.axis;
      ctx.fillText("no labels for this file", g.left + 6, (g.laneF[0] + g.laneF[1]) / 2);
    }

    ctx.save();
    ctx.beginPath(); ctx.rect(g.left, 0, g.right - g.left, H); ctx.clip();
    // labelled faults: shaded in the plot, bars in their lane
    S.faults.forEach(function (f) {
      if (f[1] < g.a || f[0] > g.b) return;
      var x0 = X(f[0]), x1 = Math.max(X(f[1]), x0 + 1.5);
      var col = DATA.palette[S.fault_types[f[2]]] || "#7f7f7f";
      ctx.fillStyle = rgba(col, 0.16); ctx.fillRect(x0, g.top, x1 - x0, ph);
      ctx.fillStyle = rgba(col, f[3] === null ? 0.45 : 0.9);
      ctx.fillRect(x0, g.laneF[0], x1 - x0, g.laneF[1] - g.laneF[0]);
      if (f[3] === null) {
        ctx.save(); ctx.strokeStyle = COL.alert; ctx.setLineDash([3, 2]); ctx.lineWidth = 1.5;
        ctx.strokeRect(x0 + 0.75, g.laneF[0] + 0.75, x1 - x0 - 1.5, g.laneF[1] - g.laneF[0] - 1.5);
        ctx.restore();
      }
      var name = S.fault_types[f[2]] + (f[3] === null ? " (missed)" : "");
      if (ctx.measureText(name).width + 8 < x1 - x0) {
        ctx.fillStyle = f[3] === null ? COL.dark : "#fff"; ctx.textAlign = "left";
        ctx.fillText(name, x0 + 4, (g.laneF[0] + g.laneF[1]) / 2 + 0.5);
      }
    });
    // alerts: hatched in the plot, solid in their lane
    var pat = hatch(ctx);
    S.alerts.forEach(function (iv) {
      if (iv[1] < g.a || iv[0] > g.b) return;
      var x0 = X(iv[0]), x1 = Math.max(X(iv[1]), x0 + 1);
      ctx.fillStyle = pat; ctx.fillRect(x0, g.top, x1 - x0, ph);
      ctx.fillStyle = COL.alert; ctx.fillRect(x0, g.laneA[0], x1 - x0, g.laneA[1] - g.laneA[0]);
    });
    // score: per run of bins without a gap, the band between the bin minima and maxima, outlined
    var sc = S.score, i0 = Math.max(0, bsearch(sc.t, g.a) - 1), brk = {}, k;
    sc.brk.forEach(function (i) { brk[i] = true; });
    ctx.save();
    ctx.beginPath(); ctx.rect(g.left, g.top, g.right - g.left, ph); ctx.clip();
    ctx.strokeStyle = COL.score; ctx.fillStyle = rgba(COL.score, 0.45);
    ctx.lineWidth = 1; ctx.lineJoin = "round";
    function band(r0, r1) {  // bins r0..r1 inclusive
      ctx.beginPath();
      ctx.moveTo(X(sc.t[r0]), Y(sc.hi[r0]));
      for (var q = r0 + 1; q <= r1; q++) ctx.lineTo(X(sc.t[q]), Y(sc.hi[q]));
      for (q = r1; q >= r0; q--) ctx.lineTo(X(sc.t[q]), Y(sc.lo[q]));
      if (r0 === r1) {
        ctx.stroke();
        ctx.beginPath(); ctx.arc(X(sc.t[r0]), Y(sc.hi[r0]), 1.6, 0, 2 * Math.PI);
        ctx.fillStyle = COL.score; ctx.fill(); ctx.fillStyle = rgba(COL.score, 0.45);
        return;
      }
      ctx.closePath(); ctx.fill(); ctx.stroke();
    }
    var runStart = i0;
    for (k = i0; k < sc.t.length; k++) {
      var last = k === sc.t.length - 1 || brk[k + 1] || sc.t[k] > g.b;
      if (last) { band(runStart, k); runStart = k + 1; }
      if (sc.t[k] > g.b) break;
    }
    if (S.sustained) drawLevel(ctx, sc, S.sustained.v, brk, i0, g.b, X, Y);
    // threshold in force: a step line
    if (sc.thr_t.length) {
      ctx.strokeStyle = COL.thr; ctx.lineWidth = 1.6; ctx.setLineDash([6, 4]);
      ctx.beginPath();
      var j0 = Math.max(0, bsearch(sc.thr_t, g.a)), lastV = null, beyond = false;
      for (var j = j0; j < sc.thr_t.length && !beyond; j++) {
        var tx = X(Math.max(sc.thr_t[j], g.a)), ty = Y(sc.thr_v[j]);
        if (lastV === null) ctx.moveTo(tx, ty); else { ctx.lineTo(tx, Y(lastV)); ctx.lineTo(tx, ty); }
        lastV = sc.thr_v[j];
        beyond = sc.thr_t[j] > g.b;
      }
      if (!beyond) ctx.lineTo(X(Math.min(g.b, S.span)), Y(lastV));
      ctx.stroke(); ctx.setLineDash([]);
    }
    ctx.restore();
    // first alert inside each detected fault
    S.faults.forEach(function (f) {
      if (f[3] === null || f[3] < g.a || f[3] > g.b) return;
      var x = X(f[3]), y = g.laneF[1] + 1;
      ctx.fillStyle = "#111"; ctx.beginPath();
      ctx.moveTo(x - 5, y - 1); ctx.lineTo(x + 5, y - 1); ctx.lineTo(x, y + 7); ctx.closePath(); ctx.fill();
    });
    ctx.restore();

    // frame and time axis
    ctx.strokeStyle = COL.axis; ctx.lineWidth = 1;
    ctx.strokeRect(g.left + 0.5, g.top + 0.5, g.right - g.left - 1, ph);
    drawTimeAxis(ctx, S, g, g.bottom);
    ctx.textAlign = "left"; ctx.textBaseline = "top"; ctx.fillStyle = COL.axis;
    ctx.fillText(S.epoch ? "time (UTC)" : "time since start", 8, g.bottom + 6);
  }

  // ---------------------------------------------------------------- heat map
  function heatColour(h, v) {
    if (h.log) {
      if (v <= 0) return viridis(0);
      return viridis((Math.log10(v) - Math.log10(h.vmin)) / (Math.log10(h.vmax) - Math.log10(h.vmin)));
    }
    return viridis((v - h.vmin) / (h.vmax - h.vmin));
  }
  function drawHeat(S, st) {
    var h = S.heat, cv = st.heatCanvas;
    if (!h || !cv) return;
    var F = h.features.length, rh = Math.max(14, Math.min(22, Math.floor(320 / Math.max(F, 1))));
    var W = Math.max(cv.parentNode.clientWidth, 400), top = 4, H = top + F * rh + 78;
    var ctx = setup(cv, W, H);
    var g = { left: ML, right: W - MR, top: top, bottom: top + F * rh, a: st.view[0], b: st.view[1], rh: rh };
    var X = function (t) { return g.left + (t - g.a) / (g.b - g.a) * (g.right - g.left); };
    g.X = X; st.hg = g;
    var bw = h.span / h.bins;
    ctx.save();
    ctx.beginPath(); ctx.rect(g.left, g.top, g.right - g.left, g.bottom - g.top); ctx.clip();
    ctx.fillStyle = "#f1f2f4"; ctx.fillRect(g.left, g.top, g.right - g.left, g.bottom - g.top);
    for (var j = 0; j < F; j++) {
      var row = h.v[j], y = g.top + j * rh;
      for (var k = 0; k < h.bins; k++) {
        var v = row[k];
        if (v === null) continue;
        var t0 = k * bw, t1 = t0 + bw;
        if (t1 < g.a || t0 > g.b) continue;
        var x0 = X(t0), x1 = X(t1);
        ctx.fillStyle = heatColour(h, v);
        ctx.fillRect(Math.floor(x0), y, Math.max(Math.ceil(x1) - Math.floor(x0), 1), rh - 1);
      }
    }
    ctx.restore();
    ctx.textAlign = "right"; ctx.textBaseline = "middle"; ctx.fillStyle = COL.text;
    ctx.font = (rh < 16 ? "11px " : "12px ") + FONT.slice(5);
    h.features.forEach(function (name, j) {
      var label = name;
      while (label.length > 3 && ctx.measureText(label).width > ML - 14) label = label.slice(0, -2);
      if (label !== name) label = label.slice(0, -1) + "\u2026";
      ctx.fillText(label, g.left - 7, g.top + j * rh + rh / 2);
    });
    ctx.font = FONT;
    drawTimeAxis(ctx, S, g, g.bottom);
    ctx.textAlign = "left"; ctx.textBaseline = "top"; ctx.fillStyle = COL.axis;
    ctx.fillText(S.epoch ? "time (UTC)" : "time since start", 8, g.bottom + 6);
    // colour bar
    var cbw = Math.min(260, (g.right - g.left) / 3), cx = g.right - cbw, cy = g.bottom + 44;
    for (var p = 0; p < cbw; p++) {
      ctx.fillStyle = viridis(p / (cbw - 1)); ctx.fillRect(cx + p, cy, 1.5, 10);
    }
    ctx.strokeStyle = COL.axis; ctx.strokeRect(cx + 0.5, cy + 0.5, cbw - 1, 10);
    ctx.fillStyle = COL.text; ctx.textBaseline = "top"; ctx.textAlign = "left";
    ctx.fillText(fmtNum(h.vmin), cx, cy + 13);
    ctx.textAlign = "right"; ctx.fillText(fmtNum(h.vmax), cx + cbw, cy + 13);
    ctx.textAlign = "right"; ctx.textBaseline = "middle";
    ctx.fillText("mean error per sensor and bin" + (h.log ? " (log colour)" : ""), cx - 10, cy + 5);
  }

  // ---------------------------------------------------------------- interaction
  function tooltipAt(el, html, x, y, W) {
    el.innerHTML = html; el.style.display = "block";
    var w = el.offsetWidth;
    el.style.left = (x + 14 + w > W ? x - w - 14 : x + 14) + "px";
    el.style.top = Math.max(0, y - 10) + "px";
  }
  function esc(s) {
    return String(s).replace(/[&<>"]/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c];
    });
  }
  function inside(list, t) {
    for (var i = 0; i < list.length; i++) { if (list[i][0] <= t && t < list[i][1]) return list[i]; }
    return null;
  }
  function scoreTip(S, st, t) {
    var sc = S.score, lines = ["<b>" + esc(fmtTime(S, t)) + "</b>"];
    var k = bsearch(sc.t, t);
    if (k < sc.t.length - 1 && (k < 0 || t - sc.t[k] > sc.t[k + 1] - t)) k += 1;
    if (k >= 0 && k < sc.t.length) {
      var s = sc.lo[k] === sc.hi[k] ? fmtNum(sc.hi[k]) : fmtNum(sc.lo[k]) + " \u2013 " + fmtNum(sc.hi[k]);
      lines.push("score: " + s);
    }
    var j = bsearch(sc.thr_t, t);
    if (j >= 0) lines.push("threshold: " + fmtNum(sc.thr_v[j]));
    if (S.sustained && k >= 0 && k < sc.t.length && S.sustained.v[k] !== null) {
      lines.push("sustained level (scaled to the threshold): " + fmtNum(S.sustained.v[k]));
    }
    lines.push("alert: " + (inside(S.alerts, t) ? "<b style='color:#ff8a80'>on</b>" : "off"));
    var f = inside(S.faults, t);
    if (f) {
      lines.push("fault: <b>" + esc(S.fault_types[f[2]]) + "</b> (" + fmtDur(f[1] - f[0]) + ")");
      lines.push(f[3] === null ? "missed by the alerts" : "first alert after " + fmtDur(f[4]));
    }
    return lines.join("<br>");
  }
  function heatTip(S, st, t, y) {
    var h = S.heat, g = st.hg, j = Math.floor((y - g.top) / g.rh);
    if (j < 0 || j >= h.features.length) return null;
    var k = Math.floor(t / (h.span / h.bins));
    if (k < 0 || k >= h.bins) return null;
    var v = h.v[j][k];
    return "<b>" + esc(h.features[j]) + "</b><br>" + esc(fmtTime(S, k * h.span / h.bins)) +
      " + " + fmtDur(h.span / h.bins) + "<br>mean error: " + (v === null ? "no data" : fmtNum(v));
  }
  function wire(S, st) {
    var plots = [[st.scoreCanvas, "score"], [st.heatCanvas, "heat"]];
    plots.forEach(function (p) {
      var cv = p[0], kind = p[1];
      if (!cv) return;
      var box = cv.parentNode, tip = box.querySelector(".tooltip"), sel = box.querySelector(".selection");
      var drag = null;
      function geom() { return kind === "score" ? st.g : st.hg; }
      function toT(x) { var g = geom(); return g.a + (x - g.left) / (g.right - g.left) * (g.b - g.a); }
      function pos(ev) {
        var r = cv.getBoundingClientRect();
        return [ev.clientX - r.left, ev.clientY - r.top];
      }
      cv.addEventListener("mousemove", function (ev) {
        var q = pos(ev), g = geom();
        if (!g) return;
        var x = Math.max(g.left, Math.min(g.right, q[0]));
        st.cross.forEach(function (c) { c.style.display = "block"; c.style.left = x + "px"; });
        if (drag !== null) {
          sel.style.display = "block";
          sel.style.left = Math.min(drag, x) + "px"; sel.style.width = Math.abs(x - drag) + "px";
        }
        if (q[0] < g.left || q[0] > g.right) { tip.style.display = "none"; return; }
        var html = kind === "score" ? scoreTip(S, st, toT(q[0])) : heatTip(S, st, toT(q[0]), q[1]);
        if (html) tooltipAt(tip, html, q[0], q[1], box.clientWidth); else tip.style.display = "none";
      });
      cv.addEventListener("mouseleave", function () {
        tip.style.display = "none"; sel.style.display = "none"; drag = null;
        st.cross.forEach(function (c) { c.style.display = "none"; });
      });
      cv.addEventListener("mousedown", function (ev) {
        var q = pos(ev), g = geom();
        if (g && q[0] >= g.left && q[0] <= g.right) { drag = q[0]; ev.preventDefault(); }
      });
      cv.addEventListener("mouseup", function (ev) {
        if (drag === null) return;
        var q = pos(ev), g = geom(), x = Math.max(g.left, Math.min(g.right, q[0]));
        sel.style.display = "none";
        if (Math.abs(x - drag) > 4) {
          var a = toT(Math.min(x, drag)), b = toT(Math.max(x, drag));
          st.view = [a, b]; draw(S, st);
        }
        drag = null;
      });
      cv.addEventListener("dblclick", function () { st.view = [0, S.span]; draw(S, st); });
    });
    if (st.reset) st.reset.addEventListener("click", function () { st.view = [0, S.span]; draw(S, st); });
    if (st.logBox) {
      st.logBox.addEventListener("change", function () { st.log = st.logBox.checked; draw(S, st); });
    }
  }
  function draw(S, st) {
    try { drawScore(S, st); } catch (err) { fail(S.name + " score plot", err); }
    try { drawHeat(S, st); } catch (err) { fail(S.name + " heat map", err); }
  }

  // ---------------------------------------------------------------- main
  var states = [];
  try {
    DATA.series.forEach(function (S, i) {
      var sec = document.getElementById("series-" + i);
      var st = {
        view: [0, S.span], log: S.scale.log,
        scoreCanvas: sec.querySelector("canvas.score"), heatCanvas: sec.querySelector("canvas.heat"),
        reset: sec.querySelector("button.reset"), logBox: sec.querySelector("input.log"),
        cross: Array.prototype.slice.call(sec.querySelectorAll(".crosshair"))
      };
      if (st.logBox) { st.logBox.checked = st.log; st.logBox.disabled = !S.scale.log_ok; }
      states.push(st);
      draw(S, st);
      wire(S, st);
    });
  } catch (err) { fail("setup", err); }
  var timer = null;
  window.addEventListener("resize", function () {
    clearTimeout(timer);
    timer = setTimeout(function () { states.forEach(function (st, i) { draw(DATA.series[i], st); }); }, 150);
  });
  if (!errors.length) document.body.dataset.rendered = "ok";
})();
"""
