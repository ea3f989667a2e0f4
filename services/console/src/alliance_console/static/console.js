// Charts (Apache ECharts, vendored) from the JSON each page embeds, and the live inbox.
(function () {
  "use strict";

  function drawCharts() {
    if (!window.echarts) { return; }
    document.querySelectorAll(".chart").forEach(function (el) {
      if (el.dataset.drawn) { return; }
      var source = document.getElementById(el.id + "-data");
      if (!source) { return; }
      var data = JSON.parse(source.textContent);
      var chart = window.echarts.init(el, null, { renderer: "svg" });
      chart.setOption({
        tooltip: { trigger: "axis" },
        legend: { top: 0 },
        grid: { left: 80, right: 20, top: 40, bottom: 40 },
        xAxis: { type: "category", data: data.categories, axisLabel: { interval: 0 } },
        yAxis: { type: "value", name: data.unit },
        series: data.series.map(function (s) { return { name: s.name, type: el.dataset.kind || "bar", data: s.data }; }),
        aria: { enabled: true },
        animation: false
      });
      el.dataset.drawn = "1";
      window.addEventListener("resize", function () { chart.resize(); });
    });
  }

  function liveInbox() {
    var list = document.getElementById("inbox");
    if (!list || !window.EventSource) { return; }
    var unread = document.getElementById("unread");
    var source = new EventSource(list.dataset.stream);
    source.addEventListener("unread", function (event) {
      unread.textContent = event.data + " " + list.dataset.unreadLabel;
    });
    source.addEventListener("notice", function (event) {
      var notice = JSON.parse(event.data);
      if (document.getElementById("notice-" + notice.inbox_id)) { return; }
      var empty = list.querySelector(".empty");
      if (empty) { empty.remove(); }
      var item = document.createElement("li");
      item.className = "unread";
      item.id = "notice-" + notice.inbox_id;
      var subject = document.createElement("strong");
      subject.textContent = notice.subject;
      item.appendChild(subject);
      list.insertBefore(item, list.firstChild);
    });
  }

  document.addEventListener("DOMContentLoaded", function () { drawCharts(); liveInbox(); });
  document.addEventListener("htmx:afterSettle", drawCharts);
})();
