// The search box over the key index (a JSON data block). Rows are built
// with textContent only: a key is never parsed as markup.
(function () {
  "use strict";
  var ix = JSON.parse(document.getElementById("key-index").textContent);
  var n = ix.key.length, lower = new Array(n), chart = new Map(ix.charted);
  for (var i = 0; i < n; i++) lower[i] = ix.key[i].toLowerCase();
  var q = document.getElementById("q"), count = document.getElementById("count"),
    body = document.getElementById("results"), fmt = new Intl.NumberFormat("en-US"), timer = 0;
  var hidden = /[\p{Cc}\p{Cf}]/u;
  // showKey appends key to el as text, its control and format characters
  // as marked U+XXXX (as the page's Go side writes them).
  function showKey(el, key) {
    for (var ch of key) {
      if (!hidden.test(ch)) {
        if (el.lastChild && el.lastChild.nodeType === 3) el.lastChild.appendData(ch);
        else el.appendChild(document.createTextNode(ch));
        continue;
      }
      var m = document.createElement("span");
      m.className = "cc";
      m.textContent = "U+" + ch.codePointAt(0).toString(16).toUpperCase().padStart(4, "0");
      el.appendChild(m);
    }
  }
  function cell(tr, text, cls) {
    var td = document.createElement("td");
    td.textContent = text;
    if (cls) td.className = cls;
    tr.appendChild(td);
    return td;
  }
  function run() {
    var s = q.value.trim().toLowerCase(), shown = 0, total = 0, frag = document.createDocumentFragment();
    var planHit = ix.plans.map(function (p) { return s !== "" && p.toLowerCase() === s; });
    for (var i = 0; i < n; i++) {
      if (s !== "" && !planHit[ix.plan[i]] && lower[i].indexOf(s) < 0) continue;
      total++;
      if (shown >= 100) continue;
      shown++;
      var tr = document.createElement("tr"), td = cell(tr, "", "key");
      td.title = ix.key[i];
      if (chart.has(i)) {
        var a = document.createElement("a");
        a.href = "#" + chart.get(i);
        showKey(a, ix.key[i]);
        td.appendChild(a);
      } else {
        showKey(td, ix.key[i]);
      }
      cell(tr, ix.plans[ix.plan[i]], "text");
      cell(tr, fmt.format(ix.req[i]));
      cell(tr, fmt.format(ix.exc[i]));
      cell(tr, fmt.format(ix.exc[i] - ix.leak[i]));
      cell(tr, fmt.format(ix.leak[i]));
      cell(tr, fmt.format(ix.ft[i]));
      frag.appendChild(tr);
    }
    body.replaceChildren(frag);
    count.textContent = (s === "" ? fmt.format(n) + " keys" : fmt.format(total) + " of " + fmt.format(n) + " keys match") +
      (total > shown ? ", showing the first " + shown : "");
    count.dataset.total = total;
    count.dataset.query = s;
  }
  q.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(run, 120); });
  q.disabled = false;
  run();
  document.body.dataset.ready = "1";
})();
