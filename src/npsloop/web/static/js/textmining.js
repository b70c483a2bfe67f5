/* Text page charts (/text). The page embeds its numbers (computed in SQL by
   npsloop.textmining.stats) as JSON in <script type="application/json" id="text-data">;
   this file only draws them: NPS impact per topic and the monthly volume of the top topics. */
(function () {
  "use strict";

  var source = document.getElementById("text-data");
  if (!source || typeof window.echarts === "undefined") {
    return;
  }
  var data = JSON.parse(source.textContent);
  var chart = data.chart || {};
  var labels = data.labels || {};
  var style = getComputedStyle(document.documentElement);
  function token(name, fallback) {
    return style.getPropertyValue(name).trim() || fallback;
  }
  var font = token("--font", "sans-serif");
  var detractor = token("--detractor", "#ef4444");
  var text = token("--text-2", "#3b4558");
  var palette = [token("--primary", "#3d5afe"), "#12a867", "#f2a516", "#ef4444", "#8b5cf6"];
  var charts = [];
  var tooltip = {
    backgroundColor: "#fff", borderColor: "#e4e8f0", borderWidth: 1,
    textStyle: { color: text, fontFamily: font, fontSize: 12 }
  };

  function escapeHtml(value) {
    return String(value).replace(/[&<>"']/g, function (ch) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[ch];
    });
  }

  var impactEl = document.getElementById("impact-chart");
  if (impactEl && chart.impact && chart.impact.length) {
    var rows = chart.impact.slice().reverse();
    var impact = echarts.init(impactEl);
    impact.setOption({
      textStyle: { fontFamily: font },
      grid: { left: 8, right: 40, top: 8, bottom: 8, containLabel: true },
      tooltip: Object.assign({ trigger: "item", formatter: function (p) {
        var row = rows[p.dataIndex];
        return escapeHtml(row.name) + "<br>" + escapeHtml(labels.impact) + ": +" +
          row.impact.toFixed(1) + "<br>" + escapeHtml(labels.n) + ": " + row.n +
          "<br>" + escapeHtml(labels.nps) + ": " + (row.nps === null ? "—" : row.nps.toFixed(0));
      } }, tooltip),
      xAxis: { type: "value", splitLine: { lineStyle: { color: "#eef1f6" } },
               axisLabel: { color: text } },
      yAxis: { type: "category", data: rows.map(function (r) { return r.name; }),
               axisLabel: { color: text }, axisTick: { show: false } },
      series: [{ type: "bar", data: rows.map(function (r) { return r.impact; }),
                 itemStyle: { color: detractor, borderRadius: [0, 4, 4, 0] }, barMaxWidth: 18,
                 label: { show: true, position: "right", color: text,
                          formatter: function (p) { return "+" + p.value.toFixed(1); } } }]
    });
    charts.push(impact);
  }

  var trendEl = document.getElementById("trend-chart");
  if (trendEl && chart.trend && chart.trend.length) {
    var periods = [];
    chart.trend.forEach(function (topic) {
      topic.points.forEach(function (p) {
        if (periods.indexOf(p.period) < 0) { periods.push(p.period); }
      });
    });
    periods.sort();
    var trend = echarts.init(trendEl);
    trend.setOption({
      textStyle: { fontFamily: font },
      color: palette,
      grid: { left: 8, right: 16, top: 36, bottom: 8, containLabel: true },
      legend: { top: 0, textStyle: { color: text }, type: "scroll" },
      tooltip: Object.assign({ trigger: "axis" }, tooltip),
      xAxis: { type: "category", data: periods.map(function (p) { return p.slice(0, 7); }),
               axisLabel: { color: text } },
      yAxis: { type: "value", minInterval: 1, splitLine: { lineStyle: { color: "#eef1f6" } },
               axisLabel: { color: text } },
      series: chart.trend.map(function (topic) {
        var byPeriod = {};
        topic.points.forEach(function (p) { byPeriod[p.period] = p.n; });
        return { type: "line", name: topic.name, smooth: true, symbolSize: 5,
                 data: periods.map(function (p) { return byPeriod[p] || 0; }) };
      })
    });
    charts.push(trend);
  }

  window.addEventListener("resize", function () {
    charts.forEach(function (c) { c.resize(); });
  });
})();
