// Click a header of a table.sortable to sort its rows by that column; click again to reverse.
// A cell's data-sort-value (full precision) is what is compared, its text otherwise. Columns whose header
// says data-type="number" sort numerically; empty and non-numeric values (NaN, unset) go last either way.
(function () {
  "use strict";

  function key(cell) {
    return cell.hasAttribute("data-sort-value") ? cell.getAttribute("data-sort-value") : cell.textContent.trim();
  }

  function compare(a, b, numeric) {  // a and b are present (not empty, numbers when numeric)
    if (numeric) {
      var x = parseFloat(a), y = parseFloat(b);
      return x < y ? -1 : x > y ? 1 : 0;
    }
    return a.localeCompare(b, undefined, {numeric: true});
  }

  function sortBy(table, th, column) {
    var numeric = th.getAttribute("data-type") === "number";
    var descending = th.getAttribute("aria-sort") === "ascending";
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows).map(function (row, i) {
      return {row: row, key: key(row.cells[column]), i: i};
    });
    rows.sort(function (a, b) {
      var missingA = numeric ? isNaN(parseFloat(a.key)) : a.key === "";
      var missingB = numeric ? isNaN(parseFloat(b.key)) : b.key === "";
      if (missingA || missingB) {
        if (missingA !== missingB) return missingA ? 1 : -1;  // missing values last in both directions
        return a.i - b.i;
      }
      var c = compare(a.key, b.key, numeric);
      return (descending ? -c : c) || a.i - b.i;
    });
    rows.forEach(function (r) { body.appendChild(r.row); });
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", descending ? "descending" : "ascending");
  }

  function init() {
    Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), function (table) {
      if (!table.tHead || !table.tBodies.length) return;
      Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, column) {
        th.tabIndex = 0;
        th.classList.add("sort-header");
        th.addEventListener("click", function () { sortBy(table, th, column); });
        th.addEventListener("keydown", function (ev) {
          if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); sortBy(table, th, column); }
        });
      });
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
