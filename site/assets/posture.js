/* Evidence-site behaviour, local and dependency-free (the site works offline):
 * - sort: tables marked class="posture-sortable" sort on a header click (by data-sort when a
 *   cell has one, so "9 days" sorts before "10 days");
 * - filter: an input.posture-filter narrows its table to rows containing the text, and
 *   select[data-facet] inside form.posture-facets to rows whose data-* attribute matches;
 * - paginate: a long table (and a [data-paginate] list of cards) shows one page at a time,
 *   with a count, so no page grows without bound (fewer rows per page when rows are tall);
 *   printing shows every row.
 * It reads and moves existing elements and sets only text (never innerHTML), so an escaped
 * value stays text. */
(function () {
  "use strict";
  var PAGE = 25, MIN_PAGE = 5, PAGE_PX = 4000;

  function sortValue(row, i) {
    var c = row.cells[i];
    if (!c) return "";
    var s = c.getAttribute("data-sort");
    return s !== null ? s : c.textContent.trim();
  }
  function compare(a, b) {
    var na = parseFloat(a), nb = parseFloat(b);
    if (!isNaN(na) && !isNaN(nb) && String(na) === a.replace(/\.0$/, "") && String(nb) === b.replace(/\.0$/, ""))
      return na - nb;
    return a.localeCompare(b, undefined, { numeric: true, sensitivity: "base" });
  }

  /* One list of items (table rows or cards) whose visibility is query x facets x page. */
  function Pager(items, after, size) {
    this.items = items;
    this.size = size;
    this.page = 0;
    this.all = false;
    this.query = "";
    this.facets = {};
    this.counters = [];
    this.nav = null;
    if (items.length > size) this.nav = this.buildNav(after);
  }
  Pager.prototype.buildNav = function (after) {
    var self = this, nav = document.createElement("nav");
    nav.className = "posture-pager";
    nav.setAttribute("aria-label", "Pages of this list");
    function button(text, label, fn) {
      var b = document.createElement("button");
      b.type = "button";
      b.textContent = text;
      b.setAttribute("aria-label", label);
      b.addEventListener("click", fn);
      nav.appendChild(b);
      return b;
    }
    this.prev = button("‹ Previous", "Previous page", function () { self.page -= 1; self.apply(); });
    this.status = document.createElement("span");
    this.status.setAttribute("aria-live", "polite");
    nav.appendChild(this.status);
    this.next = button("Next ›", "Next page", function () { self.page += 1; self.apply(); });
    this.toggle = button("Show all", "Show all rows", function () { self.all = !self.all; self.page = 0; self.apply(); });
    after.parentNode.insertBefore(nav, after.nextSibling);
    return nav;
  };
  Pager.prototype.matches = function (el) {
    if (this.query && el.textContent.toLowerCase().indexOf(this.query) === -1) return false;
    for (var k in this.facets) {
      if (this.facets[k] && el.getAttribute("data-" + k) !== this.facets[k]) return false;
    }
    return true;
  };
  Pager.prototype.apply = function () {
    var hits = [], self = this;
    this.items.forEach(function (el) { if (self.matches(el)) hits.push(el); });
    var pages = Math.max(1, Math.ceil(hits.length / this.size));
    this.page = Math.min(Math.max(this.page, 0), pages - 1);
    var lo = this.all || !this.nav ? 0 : this.page * this.size;
    var hi = this.all || !this.nav ? hits.length : lo + this.size;
    var shown = new Set(hits.slice(lo, hi)), hit = new Set(hits);
    this.items.forEach(function (el) {
      el.hidden = !shown.has(el);
      el.classList.toggle("posture-offpage", hit.has(el) && !shown.has(el));
    });
    this.counters.forEach(function (c) { c.textContent = hits.length + " of " + self.items.length; });
    if (this.nav) {
      var one = pages <= 1 || this.all;
      this.status.textContent = hits.length === 0 ? "nothing matches" :
        (this.all ? "all " + hits.length : (lo + 1) + "–" + Math.min(hi, hits.length) + " of " + hits.length);
      this.prev.disabled = one || this.page === 0;
      this.next.disabled = one || this.page >= pages - 1;
      this.toggle.textContent = this.all ? "Show pages" : "Show all";
      this.toggle.setAttribute("aria-label", this.all ? "Show pages" : "Show all rows");  /* name includes the text */
      this.nav.hidden = this.items.length <= this.size;
    }
  };

  var pagers = new Map();
  function pagerFor(el) { return pagers.get(el); }

  function makeSortable(table) {
    var heads = table.tHead ? table.tHead.rows[0].cells : [];
    Array.prototype.forEach.call(heads, function (th, i) {
      th.setAttribute("tabindex", "0");
      th.setAttribute("role", "button");
      function sort() {
        var asc = th.getAttribute("aria-sort") !== "ascending";
        Array.prototype.forEach.call(heads, function (h) { h.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", asc ? "ascending" : "descending");
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (ra, rb) {
          var r = compare(sortValue(ra, i), sortValue(rb, i));
          return asc ? r : -r;
        });
        rows.forEach(function (r) { body.appendChild(r); });
        var p = pagerFor(table);
        if (p) { p.items = rows; p.apply(); }
      }
      th.addEventListener("click", sort);
      th.addEventListener("keydown", function (e) { if (e.key === "Enter") sort(); });
    });
  }
  function attachFilter(input) {
    var p = pagerFor(document.getElementById(input.getAttribute("data-filter-for")));
    if (!p) return;
    var count = document.getElementById(input.getAttribute("data-count"));
    if (count) p.counters.push(count);
    input.addEventListener("input", function () {
      p.query = input.value.trim().toLowerCase();
      p.page = 0;
      p.apply();
    });
  }
  function attachFacets(form) {
    var p = pagerFor(document.getElementById(form.getAttribute("data-facets-for")));
    if (!p) return;
    form.addEventListener("submit", function (e) { e.preventDefault(); });
    form.querySelectorAll("select[data-facet]").forEach(function (sel) {
      sel.addEventListener("change", function () {
        p.facets[sel.getAttribute("data-facet")] = sel.value;
        p.page = 0;
        p.apply();
      });
    });
  }
  function init() {
    var article = document.querySelector("article") || document.body;
    article.querySelectorAll("table").forEach(function (table) {
      var body = table.tBodies[0];
      if (!body) return;
      var rows = body.rows.length, given = table.getAttribute("data-page-size");
      var size = parseInt(given || PAGE, 10);
      if (!given && rows > MIN_PAGE && body.offsetHeight > 0) {
        /* tall rows (lists of steps, long evidence): fewer per page, so a page stays readable */
        size = Math.max(MIN_PAGE, Math.min(PAGE, Math.floor(PAGE_PX / (body.offsetHeight / rows))));
      }
      var after = table.closest(".posture-table-wrap, .md-typeset__scrollwrap") || table;
      var p = new Pager(Array.prototype.slice.call(body.rows), after, size);
      pagers.set(table, p);
    });
    article.querySelectorAll("[data-paginate]").forEach(function (list) {
      var size = parseInt(list.getAttribute("data-paginate"), 10) || PAGE;
      var p = new Pager(Array.prototype.slice.call(list.children), list, size);
      pagers.set(list, p);
    });
    document.querySelectorAll("table.posture-sortable").forEach(makeSortable);
    document.querySelectorAll("input.posture-filter").forEach(attachFilter);
    document.querySelectorAll("form.posture-facets").forEach(attachFacets);
    pagers.forEach(function (p) { p.apply(); });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();

/* Accessibility fixes to the Material theme (axe-core, tests/test_site_axe.py): the search
 * dialog gets an accessible name, the version button's name includes the version it shows
 * (Material renders it later, hence the observer), and a table box that scrolls sideways can
 * be reached with the keyboard. */
(function () {
  "use strict";
  function nameMaterialWidgets() {
    var search = document.querySelector('.md-search[role="dialog"]');
    if (search && !search.hasAttribute("aria-label")) search.setAttribute("aria-label", "Search");
    var current = document.querySelector(".md-version__current");
    var label = current && "Version " + current.textContent.trim() + ", select another";
    if (current && current.getAttribute("aria-label") !== label) current.setAttribute("aria-label", label);
  }
  function focusableScrollers() {
    document.querySelectorAll(".posture-table-wrap").forEach(function (box) {
      if (box.scrollWidth > box.clientWidth && !box.hasAttribute("tabindex")) box.setAttribute("tabindex", "0");
    });
  }
  function init() {
    nameMaterialWidgets();
    focusableScrollers();
    var header = document.querySelector(".md-header") || document.body;
    new MutationObserver(nameMaterialWidgets).observe(header, { childList: true, subtree: true });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
