// On a narrow screen the results come first: the search page's unused filters fold away.
(function () {
  var filters = document.getElementById("filters");
  if (filters && !filters.hasAttribute("data-active") &&
      window.matchMedia("(max-width: 859px)").matches) {
    filters.open = false;
  }
})();
