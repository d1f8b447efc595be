/* herald console: the one script, served by herald at /console/static/console.js.
 * Progressive enhancement only: every page works without it. The segment
 * editor's rule (textarea#rule[data-check]) is checked as one types, 300 ms
 * after the last key, through GET /console/segments/check?rule=..., whose
 * JSON is {count, sample: [{id, email, phone}]} or {error: {message, line,
 * column}}; the answer fills the page's own elements (#count, #sample,
 * #rule-error, #rule-mark), words come from the page's template (both
 * languages), and text is set as text, never as HTML. An older answer
 * arriving after a newer one is dropped. */
(function () {
  'use strict';

  var DEBOUNCE_MS = 300;

  function byId(id) {
    return document.getElementById(id);
  }

  function setText(id, text) {
    var el = byId(id);
    if (el) el.textContent = text;
  }

  function cell(row, text) {
    var td = document.createElement('td');
    td.textContent = text || '';
    row.appendChild(td);
  }

  function showSample(sample) {
    var body = document.querySelector('#sample tbody');
    if (!body) return;
    while (body.firstChild) body.removeChild(body.firstChild);
    sample.forEach(function (c) {
      var tr = document.createElement('tr');
      cell(tr, c.id);
      cell(tr, c.email);
      cell(tr, c.phone);
      body.appendChild(tr);
    });
  }

  /* The rule's text split at a line and column counted in characters. */
  function split(rule, line, column) {
    var lines = rule.split('\n');
    var before = lines.slice(0, line - 1).join('\n') + (line > 1 ? '\n' : '');
    var chars = Array.from(lines[line - 1] || '');
    var at = chars[column - 1];
    return {
      before: before + chars.slice(0, column - 1).join(''),
      at: at === undefined ? ' ' : at,
      after: chars.slice(column).join('') + (line < lines.length ? '\n' + lines.slice(line).join('\n') : '')
    };
  }

  function showMark(rule, e) {
    var pre = byId('rule-mark');
    if (!pre) return;
    while (pre.firstChild) pre.removeChild(pre.firstChild);
    if (!(e.line > 0)) return;
    var m = split(rule, e.line, e.column);
    var before = document.createElement('span');
    var at = document.createElement('mark');
    var after = document.createElement('span');
    before.id = 'mark-before';
    at.id = 'mark-at';
    after.id = 'mark-after';
    before.textContent = m.before;
    at.textContent = m.at;
    after.textContent = m.after;
    pre.appendChild(before);
    pre.appendChild(at);
    pre.appendChild(after);
  }

  function show(rule, answer) {
    var ok = byId('check-ok'), bad = byId('check-error');
    if (answer.error) {
      if (ok) ok.hidden = true;
      if (bad) bad.hidden = false;
      setText('count', '-'); /* no count stands for a rule that does not parse */
      setText('rule-error', answer.error.message);
      var at = byId('rule-at');
      if (at) at.hidden = !(answer.error.line > 0);
      setText('err-line', String(answer.error.line));
      setText('err-column', String(answer.error.column));
      showMark(rule, answer.error);
      return;
    }
    if (bad) bad.hidden = true;
    if (ok) ok.hidden = false;
    setText('count', String(answer.count));
    showSample(answer.sample || []);
  }

  function liveRule(area) {
    var timer = null, seq = 0, shown = 0;
    var max = parseInt(area.getAttribute('maxlength'), 10) || 1024;
    function check() {
      var rule = area.value, mine = ++seq;
      if (!rule.trim() || new TextEncoder().encode(rule).length > max) return;
      var url = area.getAttribute('data-check') + '?rule=' + encodeURIComponent(rule);
      var name = area.getAttribute('data-name');
      if (name) url += '&name=' + encodeURIComponent(name);
      fetch(url, { credentials: 'same-origin', headers: { Accept: 'application/json' } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (answer) {
          if (!answer || mine < shown) return;
          shown = mine;
          show(rule, answer);
        })
        .catch(function () { /* the Check button still works */ });
    }
    area.addEventListener('input', function () {
      if (timer) clearTimeout(timer);
      timer = setTimeout(check, DEBOUNCE_MS);
    });
  }

  document.addEventListener('DOMContentLoaded', function () {
    var area = document.querySelector('textarea#rule[data-check]');
    if (area) liveRule(area);
  });
})();
