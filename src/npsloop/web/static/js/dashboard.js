/* Dashboard charts. The page embeds its numbers (all computed by analytics.service) as JSON in
   <script type="application/json" id="dashboard-data">; this file only draws them with
   ECharts, in the colours of app.css, and keeps the charts sized to their cards. */
(function () {
  "use strict";

  var source = document.getElementById("dashboard-data");
  if (!source || typeof window.echarts === "undefined") {
    return;
  }
  var data = JSON.parse(source.textContent);
  var labels = data.labels || {};
  var style = getComputedStyle(document.documentElement);

  function token(name, fallback) {
    return style.getPropertyValue(name).trim() || fallback;
  }

  var color = {
    promoter: token("--promoter", "#12a867"),
    passive: token("--passive", "#f2a516"),
    detractor: token("--detractor", "#ef4444"),
    primary: token("--primary", "#3d5afe"),
    text: token("--text-2", "#3b4558"),
    muted: token("--muted", "#6b7487"),
    faint: token("--faint", "#98a1b3"),
    grid: "#eef1f6",
    bars: "#dfe3ec",
    band: "rgba(61, 90, 254, 0.14)"
  };
  var font = token("--font", "sans-serif");
  var charts = [];

  function categoryOf(score) {
    if (score >= 9) { return "promoter"; }
    return score >= 7 ? "passive" : "detractor";
  }

  function fixed(value, digits) {
    return value === null || value === undefined ? "—" : Number(value).toFixed(digits);
  }

  function percent(share) {
    return fixed(share * 100, 1) + "%";
  }

  function escapeHtml(text) {
    return String(text).replace(/[&<>"']/g, function (ch) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[ch];
    });
  }

  function tooltipBase() {
    return {
      backgroundColor: "#fff",
      borderColor: "#e4e8f0",
      borderWidth: 1,
      padding: [10, 12],
      textStyle: { color: color.text, fontFamily: font, fontSize: 12 },
      extraCssText: "box-shadow: 0 8px 24px rgba(16,24,40,.12); border-radius: 10px;"
    };
  }

  function mount(id, build) {
    var node = document.getElementById(id);
    if (!node) { return; }
    var chart = window.echarts.init(node, null, { renderer: "canvas" });
    var width = node.clientWidth;
    chart.setOption(build(width));
    // Rebuild when the width changes: how dense the trend's dots may be depends on it.
    chart.refit = function () {
      if (node.clientWidth !== width) {
        width = node.clientWidth;
        chart.setOption(build(width));
      }
      chart.resize();
    };
    charts.push(chart);
    if (typeof ResizeObserver !== "undefined") {
      new ResizeObserver(function () { chart.refit(); }).observe(node);
    }
  }

  /* ---- Weekly trend: NPS line, its 95% band (stacked lower + width), volume bars ---- */
  function trendOption(weeks, chartWidth, unit) {
    var unitLabel = unit || labels.week;
    var axis = weeks.map(function (w) { return w.week; });
    var lower = [];
    var spread = [];
    var lows = [];
    var highs = [];
    weeks.forEach(function (w) {
      if (w.nps === null) {  // a week without answers: a gap, not a zero
        lower.push("-");
        spread.push("-");
        return;
      }
      var lo = Math.max(-100, w.nps - w.margin_of_error);
      var hi = Math.min(100, w.nps + w.margin_of_error);
      lower.push(lo);
      spread.push(hi - lo);
      lows.push(lo);
      highs.push(hi);
    });
    // Axis bounds on whole multiples of the tick step, always showing the zero line.
    var low = Math.min.apply(null, lows.concat([0]));
    var high = Math.max.apply(null, highs.concat([0]));
    var step = high - low > 90 ? 20 : 10;
    var minY = Math.max(-100, Math.floor(low / step) * step);
    var maxY = Math.min(100, Math.ceil(high / step) * step);
    var maxN = Math.max.apply(null, weeks.map(function (w) { return w.n; }).concat([1]));

    return {
      textStyle: { fontFamily: font },
      animationDuration: 500,
      grid: { left: 8, right: 8, top: 16, bottom: 4, containLabel: true },
      tooltip: Object.assign(tooltipBase(), {
        trigger: "axis",
        axisPointer: { type: "line", lineStyle: { color: color.faint, type: "dashed" } },
        formatter: function (params) {
          var w = weeks[params[0].dataIndex];
          if (w.nps === null) {
            return "<div style=\"font-weight:600\">" + escapeHtml(unitLabel) + " " +
              escapeHtml(w.week) + "</div><div>n = 0</div>";
          }
          var html = "<div style=\"font-weight:600;margin-bottom:4px\">" + escapeHtml(unitLabel) +
            " " + escapeHtml(w.week) + "</div>" +
            "<div><b style=\"font-size:16px\">" + fixed(w.nps, 1) + "</b> ± " +
            fixed(w.margin_of_error, 1) + " <span style=\"color:" + color.muted + "\">(" +
            escapeHtml(labels.margin) + ")</span></div>" +
            "<div>n = " + w.n + "</div>" +
            "<div style=\"margin-top:4px;color:" + color.muted + "\">" +
            dot(color.promoter) + escapeHtml(labels.promoters) + " " + percent(w.promoter_share) +
            "<br>" + dot(color.passive) + escapeHtml(labels.passives) + " " +
            percent(w.passive_share) + "<br>" + dot(color.detractor) +
            escapeHtml(labels.detractors) + " " + percent(w.detractor_share) + "</div>";
          if (w.too_few) {
            html += "<div style=\"margin-top:4px;color:#9a6300\">⚠ " +
              escapeHtml(labels.too_few) + "</div>";
          }
          return html;
        }
      }),
      xAxis: {
        type: "category",
        data: axis,
        boundaryGap: true,
        axisLine: { lineStyle: { color: "#d5dae4" } },
        axisTick: { show: false },
        axisLabel: {
          color: color.muted,
          hideOverlap: true,
          formatter: function (value) { return value.slice(5).replace("-", "/"); }
        }
      },
      yAxis: [
        {
          type: "value",
          min: minY,
          max: maxY,
          interval: step,
          axisLabel: { color: color.muted },
          splitLine: { lineStyle: { color: color.grid } }
        },
        {
          type: "value",
          max: maxN * 4,
          show: false,
          splitLine: { show: false }
        }
      ],
      series: [
        {
          name: labels.responses,
          type: "bar",
          yAxisIndex: 1,
          data: weeks.map(function (w) { return w.n; }),
          barMaxWidth: 12,
          itemStyle: { color: color.bars, borderRadius: [3, 3, 0, 0] },
          emphasis: { itemStyle: { color: "#bcc4d4" } },
          z: 1
        },
        {
          name: "lower",
          type: "line",
          data: lower,
          stack: "band",
          stackStrategy: "all",
          symbol: "none",
          lineStyle: { opacity: 0 },
          tooltip: { show: false },
          silent: true,
          z: 2
        },
        {
          name: labels.band,
          type: "line",
          data: spread,
          stack: "band",
          stackStrategy: "all",
          symbol: "none",
          lineStyle: { opacity: 0 },
          areaStyle: { color: color.band },
          silent: true,
          z: 2
        },
        {
          name: labels.nps,
          type: "line",
          data: weeks.map(function (w) {
            return {
              value: w.nps === null ? "-" : w.nps,
              symbolSize: w.too_few ? 5 : 7,
              itemStyle: { opacity: w.too_few ? 0.45 : 1 }
            };
          }),
          symbol: "circle",
          // Dots only where each week has room for one; otherwise a clean line.
          showSymbol: chartWidth / Math.max(weeks.length, 1) >= 10,
          showAllSymbol: true,
          lineStyle: { color: color.primary, width: 2.5 },
          itemStyle: { color: color.primary, borderColor: "#fff", borderWidth: 1.5 },
          z: 3,
          markLine: {
            silent: true,
            symbol: "none",
            label: { show: false },
            lineStyle: { color: "#c5ccd9", type: "solid", width: 1 },
            data: [{ yAxis: 0 }]
          }
        }
      ]
    };
  }

  function dot(c) {
    return "<span style=\"display:inline-block;width:8px;height:8px;border-radius:50%;margin-right:6px;background:" +
      c + "\"></span>";
  }

  /* ---- 0-10 histogram, each bar in its category colour, share on top ---- */
  function histogramOption(bins) {
    return {
      textStyle: { fontFamily: font },
      animationDuration: 500,
      grid: { left: 4, right: 4, top: 26, bottom: 4, containLabel: true },
      tooltip: Object.assign(tooltipBase(), {
        trigger: "item",
        formatter: function (p) {
          var b = bins[p.dataIndex];
          return "<div style=\"font-weight:600\">" + escapeHtml(labels.score) + " " + b.score + "</div>" +
            "<div>" + dot(color[categoryOf(b.score)]) + b.count + " · " + percent(b.share) + "</div>";
        }
      }),
      xAxis: {
        type: "category",
        data: bins.map(function (b) { return String(b.score); }),
        axisLine: { lineStyle: { color: "#d5dae4" } },
        axisTick: { show: false },
        axisLabel: { color: color.text, fontWeight: 600 }
      },
      yAxis: {
        type: "value",
        axisLabel: { color: color.muted },
        splitLine: { lineStyle: { color: color.grid } }
      },
      series: [
        {
          type: "bar",
          name: labels.responses,
          barCategoryGap: "22%",
          data: bins.map(function (b) {
            return {
              value: b.count,
              itemStyle: { color: color[categoryOf(b.score)], borderRadius: [4, 4, 0, 0] }
            };
          }),
          label: {
            show: true,
            position: "top",
            color: color.muted,
            fontSize: 10.5,
            formatter: function (p) {
              var share = bins[p.dataIndex].share;
              return share ? Math.round(share * 100) + "%" : "";
            }
          }
        }
      ]
    };
  }

  if (data.weekly && data.weekly.length) {
    mount("chart-trend", function (width) { return trendOption(data.weekly, width); });
  }
  // The organisation overview: relationship NPS by month (same drawing, monthly buckets).
  if (data.relationship && data.relationship.length) {
    mount("chart-relationship", function (width) {
      return trendOption(data.relationship, width, data.relationship_unit);
    });
  }
  if (data.histogram) {
    mount("chart-histogram", function () { return histogramOption(data.histogram); });
  }

  var pending = null;
  window.addEventListener("resize", function () {
    if (pending) { window.cancelAnimationFrame(pending); }
    pending = window.requestAnimationFrame(function () {
      charts.forEach(function (chart) { chart.refit(); });
    });
  });
})();
