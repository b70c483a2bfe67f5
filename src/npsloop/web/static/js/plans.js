/* Action plan effect chart. The page embeds the numbers (computed by plans.effect) as JSON in
   <script type="application/json" id="plan-data">; this file draws the weekly NPS with the
   plan's start marked, the before/after NPS levels and the weekly answer counts. */
(function () {
  "use strict";

  // Forms that destroy something ask first (<form data-confirm="question">).
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form instanceof HTMLFormElement ? form.getAttribute("data-confirm") : null;
    if (question && !window.confirm(question)) { event.preventDefault(); }
  });

  var source = document.getElementById("plan-data");
  var node = document.getElementById("plan-trend-chart");
  if (!source || !node || typeof window.echarts === "undefined") { return; }
  var data = JSON.parse(source.textContent);
  var labels = data.labels || {};
  var trend = data.trend || [];
  if (!trend.length) { return; }
  var css = getComputedStyle(document.documentElement);
  var token = function (name, fallback) { return css.getPropertyValue(name).trim() || fallback; };
  var color = {
    primary: token("--primary", "#3d5afe"),
    promoter: token("--promoter", "#12a867"),
    detractor: token("--detractor", "#ef4444"),
    text: token("--text-2", "#3b4558"),
    muted: token("--muted", "#6b7487"),
    faint: token("--faint", "#98a1b3"),
    grid: "#eef1f6"
  };
  var font = token("--font", "sans-serif");
  var weeks = trend.map(function (p) { return p.week; });
  var start = data.start_week;
  // The start may fall in a week without answers: mark the first week on or after it.
  var startWeek = weeks.filter(function (w) { return w >= start; })[0] || weeks[weeks.length - 1];
  var startIndex = weeks.indexOf(startWeek);

  var level = function (value, from, to, name, tone) {
    if (value === null || value === undefined || from < 0 || to < from) { return []; }
    return [[{ name: name, coord: [weeks[from], value], lineStyle: { color: tone, width: 2, type: "solid" },
               label: { show: true, position: "insideStartTop", color: tone, fontWeight: 600,
                        formatter: name + " " + Number(value).toFixed(1) } },
             { coord: [weeks[to], value] }]];
  };
  var lines = [{ xAxis: startWeek, lineStyle: { color: color.text, type: "dashed", width: 1.5 },
                 label: { formatter: labels.start, color: color.text, fontWeight: 600 } }];
  if (data.target !== null && data.target !== undefined) {
    lines.push({ yAxis: data.target, lineStyle: { color: color.promoter, type: "dotted", width: 1.5 },
                 label: { formatter: labels.target + " " + data.target, color: color.promoter, position: "insideEndTop" } });
  }
  var levels = level(data.before_nps, 0, Math.max(0, startIndex - 1), labels.before, color.faint)
    .concat(level(data.after_nps, startIndex, weeks.length - 1, labels.after, color.primary));

  var chart = window.echarts.init(node, null, { renderer: "canvas" });
  chart.setOption({
    textStyle: { fontFamily: font },
    animationDuration: 400,
    tooltip: {
      trigger: "axis",
      backgroundColor: "#fff", borderColor: "#e4e8f0", borderWidth: 1, padding: [8, 10],
      textStyle: { color: color.text, fontFamily: font, fontSize: 12 },
      extraCssText: "box-shadow: 0 8px 24px rgba(16,24,40,.12); border-radius: 10px;",
      formatter: function (items) {
        var week = items[0].axisValue;
        var point = trend[weeks.indexOf(week)] || {};
        var nps = point.nps === null || point.nps === undefined ? "—" : Number(point.nps).toFixed(1);
        return "<b>" + week + "</b><br>NPS " + nps + "<br>" + labels.n + " " + (point.n || 0);
      }
    },
    grid: [{ left: 44, right: 16, top: 28, height: "62%" }, { left: 44, right: 16, top: "78%", bottom: 24 }],
    xAxis: [
      { type: "category", data: weeks, gridIndex: 0, axisLabel: { show: false }, axisTick: { show: false },
        axisLine: { lineStyle: { color: "#dfe3ec" } } },
      { type: "category", data: weeks, gridIndex: 1, axisTick: { show: false },
        axisLine: { lineStyle: { color: "#dfe3ec" } }, axisLabel: { color: color.muted, fontSize: 11 } }
    ],
    yAxis: [
      { type: "value", gridIndex: 0, min: function (v) { return Math.max(-100, Math.floor((v.min - 10) / 10) * 10); },
        max: function (v) { return Math.min(100, Math.ceil((v.max + 10) / 10) * 10); },
        splitLine: { lineStyle: { color: color.grid } }, axisLabel: { color: color.muted, fontSize: 11 } },
      { type: "value", gridIndex: 1, minInterval: 1, splitNumber: 2, splitLine: { show: false },
        axisLabel: { color: color.faint, fontSize: 10 } }
    ],
    series: [
      { name: "NPS", type: "line", xAxisIndex: 0, yAxisIndex: 0, smooth: 0.25, symbol: "circle", symbolSize: 5,
        connectNulls: true, data: trend.map(function (p) { return p.nps; }),
        lineStyle: { color: color.primary, width: 2 }, itemStyle: { color: color.primary },
        markLine: { symbol: "none", silent: true, data: lines.concat(levels) },
        markArea: { silent: true, itemStyle: { color: "rgba(61, 90, 254, 0.05)" },
                    data: startIndex >= 0 ? [[{ xAxis: startWeek }, { xAxis: weeks[weeks.length - 1] }]] : [] } },
      { name: labels.n, type: "bar", xAxisIndex: 1, yAxisIndex: 1, barMaxWidth: 12,
        data: trend.map(function (p) { return p.n; }),
        itemStyle: { color: "#d7dce7", borderRadius: [2, 2, 0, 0] } }
    ]
  });
  window.addEventListener("resize", function () { chart.resize(); });
})();
