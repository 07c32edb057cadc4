// Draw every chart widget: its Chart.js config sits in a JSON script next to its canvas.
document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
  var source = document.getElementById(canvas.dataset.chart);
  if (source && window.Chart) {
    new window.Chart(canvas, JSON.parse(source.textContent));
  }
});
