// Draws the bridge map's figures (their data sits in the page as JSON) with plotly.js.
(() => {
  const figures = JSON.parse(document.getElementById("figures").textContent);
  const config = {responsive: true, displaylogo: false, modeBarButtonsToRemove: ["select2d", "lasso2d"]};
  for (const el of document.querySelectorAll("[data-figure]")) {
    const fig = figures[el.dataset.figure];
    Plotly.newPlot(el, fig.data, fig.layout, config);
  }
})();
