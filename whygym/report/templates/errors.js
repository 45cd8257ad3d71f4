// Runs first, before anything else can fail: every error (script errors, and images that fail to load,
// caught in the capture phase) is kept so that the self-check in report.js can report it in the page.
window.__reportErrors = [];
window.addEventListener('error', function (e) {
  var t = e.target;
  if (t && t.tagName === 'IMG') { window.__reportErrors.push('image failed to load: ' + t.getAttribute('src')); }
  else { window.__reportErrors.push(String(e.message || e)); }
}, true);
