// The samples filter, and the page's self-check on load (#selfcheck[data-status]: ok, or fail with the
// images that did not load and any script error; a banner names missing PNGs).
(function () {
  function byId(id) { return document.getElementById(id); }
  var table = byId('samples-table');
  if (table) {
    var rows = Array.prototype.slice.call(table.tBodies[0].rows);
    var selects = Array.prototype.slice.call(document.querySelectorAll('.filters select'));
    var count = byId('samples-count'), empty = byId('samples-empty');
    var apply = function () {
      var shown = 0;
      rows.forEach(function (tr) {
        var ok = selects.every(function (s) { return !s.value || tr.getAttribute('data-' + s.getAttribute('data-key')) === s.value; });
        tr.hidden = !ok;
        if (ok) { shown += 1; }
      });
      count.textContent = shown + ' of ' + rows.length + ' samples shown';
      empty.hidden = shown > 0;
    };
    selects.forEach(function (s) { s.addEventListener('change', apply); });
    byId('filter-reset').addEventListener('click', function () { selects.forEach(function (s) { s.value = ''; }); apply(); });
    apply();
  }
  window.addEventListener('load', function () {
    var imgs = Array.prototype.slice.call(document.images);
    var broken = imgs.filter(function (i) { return !i.complete || i.naturalWidth === 0; })
                     .map(function (i) { return i.getAttribute('src'); });
    var errs = window.__reportErrors.slice();
    var box = byId('selfcheck');
    box.setAttribute('data-status', (broken.length || errs.length) ? 'fail' : 'ok');
    box.setAttribute('data-images', String(imgs.length));
    box.setAttribute('data-broken', broken.join(' '));
    box.textContent = JSON.stringify({images: imgs.length, broken: broken, errors: errs});
    if (broken.length) {
      var b = document.createElement('div');
      b.id = 'selfcheck-banner';
      b.textContent = broken.length + ' plot image(s) did not load (' + broken.join(', ') +
        '): keep the PNG files in the same folder as report.html.';
      document.body.insertBefore(b, document.body.firstChild);
    }
  });
})();
