"""The CSS and JavaScript inlined into the graph page (symdiff/inspect/html.py).

The script reads the JSON block `#sd-data`, draws the SVG, and keeps every interaction
linear in the graph's size: adjacency lists are built once, a search or a path walks each
node and edge at most once, and a highlight clears only what it set. User text is only
ever assigned with textContent.
"""

PAGE_CSS = """\
html, body { margin: 0; height: 100%; font: 13px/1.4 system-ui, sans-serif; color: #111827; }
body { display: flex; flex-direction: column; }
#sd-bar { display: flex; flex-wrap: wrap; gap: 6px 10px; align-items: center;
  padding: 6px 10px; border-bottom: 1px solid #d1d5db; background: #f9fafb; }
#sd-bar h1 { font-size: 14px; margin: 0 8px 0 0; }
#sd-bar button, #sd-bar select, #sd-bar input { font: inherit; }
#sd-bar button.off { background: #e5e7eb; color: #6b7280; text-decoration: line-through; }
#sd-main { flex: 1; display: flex; min-height: 0; }
#sd-view { flex: 1; overflow: auto; background: #fff; }
#sd-panel { width: 340px; overflow: auto; border-left: 1px solid #d1d5db; padding: 8px 10px;
  background: #fcfcfd; }
#sd-panel h2 { font-size: 14px; margin: 4px 0 6px; word-break: break-all; }
#sd-panel dl { margin: 0; display: grid; grid-template-columns: max-content 1fr;
  gap: 2px 8px; }
#sd-panel dt { color: #6b7280; }
#sd-panel dd { margin: 0; word-break: break-word; }
#sd-panel pre { white-space: pre-wrap; word-break: break-all; background: #f3f4f6;
  padding: 4px 6px; margin: 4px 0; font-size: 12px; }
#sd-panel a, #sd-results a { color: #1d4ed8; cursor: pointer; text-decoration: underline; }
#sd-results { margin-top: 8px; }
#sd-results a { display: block; }
.note { color: #6b7280; font-style: italic; }
#sd-svg { overflow: visible; }
svg text { font: 11px ui-monospace, monospace; pointer-events: none; }
.n { cursor: pointer; }
.n rect { stroke-width: 1.2; }
.k-var rect { fill: #dbeafe; stroke: #1d4ed8; }
.k-const rect { fill: #f3f4f6; stroke: #6b7280; stroke-dasharray: 2 2; }
.s-forward.k-op rect { fill: #ffffff; stroke: #111827; }
.s-derivative.k-op rect { fill: #ffedd5; stroke: #c2410c; stroke-dasharray: 5 3; }
.n.out rect { stroke-width: 3; }
.e { fill: none; stroke: #9ca3af; stroke-width: 1; }
.e.d { stroke: #fdba74; }
.n.match rect { fill: #fef08a; }
.n.on-path rect { stroke: #7c3aed; stroke-width: 3; }
.e.on-path { stroke: #7c3aed; stroke-width: 2.5; }
.n.fwd rect { fill: #bbf7d0; stroke: #15803d; stroke-width: 3.5; stroke-dasharray: none; }
.n.sel rect { stroke: #dc2626; stroke-width: 3.5; stroke-dasharray: none; }
.hide-forward .s-forward, .hide-derivative .s-derivative { display: none; }
.ph { display: none; }
.hide-forward .ph-forward, .hide-derivative .ph-derivative { display: inline; }
.ph rect { fill: #f3f4f6; stroke: #9ca3af; stroke-dasharray: 6 4; cursor: pointer; }
.ph text { font-size: 14px; fill: #374151; paint-order: stroke; stroke: #fff;
  stroke-width: 4px; }
"""

PAGE_JS = r"""
(function () {
"use strict";
var data = JSON.parse(document.getElementById("sd-data").textContent);
var N = data.nodes, SVGNS = "http://www.w3.org/2000/svg";
var users = N.map(function () { return []; });
N.forEach(function (n, k) { n.in.forEach(function (i) { users[i].push(k); }); });

function el(tag, attrs, text) {
  var e = document.createElement(tag);
  for (var a in attrs) e.setAttribute(a, attrs[a]);
  if (text !== undefined) e.textContent = text;
  return e;
}
function sv(tag, attrs) {
  var e = document.createElementNS(SVGNS, tag);
  for (var a in attrs) e.setAttribute(a, attrs[a]);
  return e;
}
function label(k) { var n = N[k]; return n.name ? n.id + " " + n.name : n.id; }

// -- page skeleton ----------------------------------------------------------------------
var bar = el("div", {id: "sd-bar"});
bar.appendChild(el("h1", {}, data.title));
var toggles = {};
["forward", "derivative"].forEach(function (s) {
  var b = el("button", {id: "sd-toggle-" + s, type: "button",
                        title: "collapse or expand the " + s + " part"});
  b.textContent = s + " (" + data.counts[s] + ")";
  b.addEventListener("click", function () { toggle(s); });
  toggles[s] = b; bar.appendChild(b);
});
var search = el("input", {id: "sd-search", type: "search", placeholder: "search names",
                          size: 16});
bar.appendChild(search);
var count = el("span", {id: "sd-count"}); bar.appendChild(count);
bar.appendChild(el("span", {}, "path from"));
var from = el("select", {id: "sd-from"}), to = el("select", {id: "sd-to"});
bar.appendChild(from); bar.appendChild(el("span", {}, "to")); bar.appendChild(to);
var pathBtn = el("button", {id: "sd-path", type: "button"}, "show path");
var clearBtn = el("button", {id: "sd-clear", type: "button"}, "clear");
bar.appendChild(pathBtn); bar.appendChild(clearBtn);
var zoomOut = el("button", {type: "button", title: "zoom out"}, "−");
var zoomIn = el("button", {type: "button", title: "zoom in"}, "+");
bar.appendChild(zoomOut); bar.appendChild(zoomIn);
var main = el("div", {id: "sd-main"});
var view = el("div", {id: "sd-view"});
var panel = el("div", {id: "sd-panel"});
main.appendChild(view); main.appendChild(panel);
document.body.appendChild(bar); document.body.appendChild(main);

// -- drawing --------------------------------------------------------------------------
var W = 0, H = 0;
N.forEach(function (n) { W = Math.max(W, n.x + n.w / 2); H = Math.max(H, n.y + n.h / 2); });
W += 20; H += 20;
var svg = sv("svg", {id: "sd-svg", width: W, height: H, viewBox: "0 0 " + W + " " + H});
var edgeLayer = sv("g", {}), nodeLayer = sv("g", {}), phLayer = sv("g", {});
var edges = [], nodeEls = [];
var frag = document.createDocumentFragment();
N.forEach(function (n, k) {
  n.in.forEach(function (i, j) {
    var a = N[i], x1 = a.x, y1 = a.y + a.h / 2, x2 = n.x, y2 = n.y - n.h / 2;
    var dy = Math.max(20, (y2 - y1) / 2), d, tip = "url(#sd-arrow)";
    var pts = n.paths ? n.paths[j] : null;
    if (pts && pts.length >= 8 && pts.length % 6 === 2) {  // Graphviz's cubic spline
      d = "M" + pts[0] + " " + pts[1];
      for (var q = 2; q < pts.length; q += 6) d += "C" + pts.slice(q, q + 6).join(" ");
      tip = "url(#sd-arrow-gv)";  // dot's spline stops where the arrowhead starts
    } else {
      d = "M" + x1 + " " + y1 + "C" + x1 + " " + (y1 + dy) + " " + x2 + " " + (y2 - dy) +
          " " + x2 + " " + y2;
    }
    var p = sv("path", {d: d, "marker-end": tip,
                        "class": "e s-" + a.section + " s-" + n.section +
                                 (n.section === "derivative" ? " d" : "")});
    edges.push({src: i, dst: k, el: p}); frag.appendChild(p);
  });
});
edgeLayer.appendChild(frag);
var outs = {};
data.outputs.forEach(function (k) { outs[k] = true; });
frag = document.createDocumentFragment();
N.forEach(function (n, k) {
  var g = sv("g", {"class": "n k-" + n.kind + " s-" + n.section + (outs[k] ? " out" : ""),
                   "data-k": k, "data-id": n.id, transform: "translate(" + (n.x - n.w / 2) +
                   "," + (n.y - n.h / 2) + ")"});
  g.appendChild(sv("rect", {width: n.w, height: n.h, rx: 5}));
  n.label.forEach(function (line, j) {
    var t = sv("text", {x: 8, y: 14 + 13 * j}); t.textContent = line; g.appendChild(t);
  });
  var tip = sv("title", {}); tip.textContent = n.prov ? n.prov.text : n.code;
  g.appendChild(tip);
  nodeEls.push(g); frag.appendChild(g);
});
nodeLayer.appendChild(frag);
var captions = [];
["forward", "derivative"].forEach(function (s) {  // what a collapsed part leaves behind
  var x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
  N.forEach(function (n) {
    if (n.section !== s) return;
    x0 = Math.min(x0, n.x - n.w / 2); y0 = Math.min(y0, n.y - n.h / 2);
    x1 = Math.max(x1, n.x + n.w / 2); y1 = Math.max(y1, n.y + n.h / 2);
  });
  if (x0 === Infinity) return;
  var g = sv("g", {"class": "ph ph-" + s, id: "sd-ph-" + s});
  g.appendChild(sv("rect", {x: x0, y: y0, width: x1 - x0, height: y1 - y0, rx: 10}));
  var caption = sv("g", {"class": "ph ph-" + s});  // above the nodes, so always legible
  var t = sv("text", {x: x0 + 12, y: Math.max(14, y0 - 6)});
  t.textContent = s + " collapsed: " + data.counts[s] + " nodes";
  caption.appendChild(t);
  g.addEventListener("click", function () { toggle(s); });
  phLayer.appendChild(g); captions.push(caption);
});
var defs = sv("defs", {}), arrow = sv("marker", {id: "sd-arrow", viewBox: "0 0 10 10",
    refX: 10, refY: 5, markerWidth: 8, markerHeight: 6, orient: "auto",
    markerUnits: "userSpaceOnUse"});
var arrowGv = sv("marker", {id: "sd-arrow-gv", viewBox: "0 0 10 10", refX: 0, refY: 5,
    markerWidth: 10, markerHeight: 7, orient: "auto", markerUnits: "userSpaceOnUse"});
[arrow, arrowGv].forEach(function (m) {
  m.appendChild(sv("path", {d: "M0 0L10 5L0 10z", fill: "#9ca3af"})); defs.appendChild(m);
});
svg.appendChild(defs);
svg.appendChild(phLayer); svg.appendChild(edgeLayer); svg.appendChild(nodeLayer);
captions.forEach(function (c) { svg.appendChild(c); });
view.appendChild(svg);
nodeLayer.addEventListener("click", function (ev) {
  var g = ev.target.closest ? ev.target.closest("g.n") : null;
  if (g) select(+g.getAttribute("data-k"));
});

// -- collapse ---------------------------------------------------------------------------
function toggle(s) {
  var hidden = svg.classList.toggle("hide-" + s);
  toggles[s].classList.toggle("off", hidden);
  toggles[s].setAttribute("aria-pressed", hidden ? "true" : "false");
}

// -- highlights: each kind remembers what it set, so clearing is proportional to it ------
var marks = {};
function markEls(cls, els) {
  (marks[cls] || []).forEach(function (e) { e.classList.remove(cls); });
  els.forEach(function (e) { e.classList.add(cls); });
  marks[cls] = els;
}
function mark(cls, ks) { markEls(cls, ks.map(function (k) { return nodeEls[k]; })); }
var zoom = 1;
function setZoom(z) {
  zoom = Math.max(0.1, Math.min(3, z));
  svg.setAttribute("width", W * zoom); svg.setAttribute("height", H * zoom);
}
zoomIn.addEventListener("click", function () { setZoom(zoom * 1.25); });
zoomOut.addEventListener("click", function () { setZoom(zoom / 1.25); });
function reveal(k) {
  var n = N[k];
  if (n.section !== "inputs" && svg.classList.contains("hide-" + n.section)) toggle(n.section);
  view.scrollTo({left: n.x * zoom - view.clientWidth / 2, top: n.y * zoom - view.clientHeight / 2});
}
function link(k, parent) {
  var a = el("a", {"data-k": k}, label(k));
  a.addEventListener("click", function () { select(k); reveal(k); });
  parent.appendChild(a);
  return a;
}

// -- the node panel -------------------------------------------------------------------
function row(dl, key, value, id) {
  dl.appendChild(el("dt", {}, key));
  var dd = el("dd", id ? {id: id} : {});
  if (typeof value === "string") dd.textContent = value; else dd.appendChild(value);
  dl.appendChild(dd);
  return dd;
}
function links(ks) {
  var span = el("span", {});
  if (!ks.length) span.textContent = "none";
  ks.slice(0, 40).forEach(function (k, j) {
    if (j) span.appendChild(document.createTextNode(", "));
    var a = link(k, span); a.style.display = "inline";
  });
  if (ks.length > 40) span.appendChild(document.createTextNode(" … " + (ks.length - 40) +
                                                               " more"));
  return span;
}
function select(k) {
  var n = N[k];
  mark("sel", [k]);
  mark("fwd", n.prov && n.prov.forward >= 0 ? [n.prov.forward] : []);
  panel.textContent = "";
  panel.appendChild(el("h2", {id: "sd-title"}, label(k)));
  var dl = el("dl", {}); panel.appendChild(dl);
  row(dl, "op", n.op, "sd-op");
  row(dl, "part", n.section, "sd-part");
  row(dl, "type", n.type, "sd-type");
  row(dl, "shape", n.shape, "sd-shape");
  row(dl, "computes", n.code, "sd-code");
  row(dl, "inputs", links(n.in));
  row(dl, "used by", links(users[k]));
  var prov = el("div", {id: "sd-prov"});
  if (n.prov) {
    prov.appendChild(el("div", {}, "derivative: " + n.prov.what));
    if (n.prov.rule) prov.appendChild(el("div", {}, "rule: " + n.prov.rule + " (" +
                                                    n.prov.kind + ")"));
    var f = el("div", {id: "sd-prov-forward"}, "from forward node: ");
    if (n.prov.forward >= 0) { link(n.prov.forward, f).style.display = "inline";
                               f.appendChild(document.createTextNode(" (highlighted)")); }
    else f.appendChild(document.createTextNode(n.prov.forward_text || "none (a constant)"));
    prov.appendChild(f);
  } else {
    prov.appendChild(el("span", {"class": "note"},
                        n.section === "inputs" ? "an input of the graph" :
                        "a forward node (no provenance)"));
  }
  row(dl, "provenance", prov);
  var src = el("div", {id: "sd-src"});
  if (n.src) {
    src.appendChild(el("div", {}, n.src.line ? "generated module, line " + n.src.line + ":"
                                             : "generated statement:"));
    src.appendChild(el("pre", {}, n.src.text));
  } else {
    src.appendChild(el("span", {"class": "note"}, n.nosrc));
  }
  row(dl, "source", src);
  if (data.module) {
    var more = el("details", {}); more.appendChild(el("summary", {}, "generated module"));
    more.appendChild(el("pre", {}, data.module)); panel.appendChild(more);
  }
}

// -- search -----------------------------------------------------------------------------
var results = el("div", {id: "sd-results"});
var timer = null;
function runSearch() {
  var q = search.value.trim().toLowerCase(), hits = [];
  if (q) N.forEach(function (n, k) {
    if (n.name.toLowerCase().indexOf(q) >= 0 || n.id.toLowerCase() === q ||
        n.op.toLowerCase() === q) hits.push(k);
  });
  mark("match", hits);
  count.textContent = q ? hits.length + " match" + (hits.length === 1 ? "" : "es") : "";
  results.textContent = "";
  hits.slice(0, 100).forEach(function (k) { link(k, results); });
  if (q) panel.appendChild(results);
  return hits;
}
search.addEventListener("input", function () {
  clearTimeout(timer); timer = setTimeout(runSearch, 120);
});
search.addEventListener("keydown", function (ev) {
  if (ev.key !== "Enter") return;
  var hits = runSearch();
  if (hits.length) { select(hits[0]); reveal(hits[0]); panel.appendChild(results); }
});

// -- paths ------------------------------------------------------------------------------
function option(sel, k) { sel.appendChild(el("option", {value: k}, label(k))); }
var toList = data.outputs.slice(), listed = {};
toList.forEach(function (k) { listed[k] = true; });
N.forEach(function (n, k) { if (n.kind === "var") option(from, k);
                            if (n.name && n.kind === "op" && !listed[k]) toList.push(k); });
toList.forEach(function (k) { option(to, k); });
N.forEach(function (n, k) { if (n.name === "loss") to.value = String(k); });
function reach(start, next) {
  var seen = new Uint8Array(N.length), stack = [start]; seen[start] = 1;
  while (stack.length) {
    var k = stack.pop();
    next[k].forEach(function (j) { if (!seen[j]) { seen[j] = 1; stack.push(j); } });
  }
  return seen;
}
var ins = N.map(function (n) { return n.in; });
function showPath() {
  var a = +from.value, b = +to.value;
  var down = reach(a, users), up = reach(b, ins), on = [], es = [];
  for (var k = 0; k < N.length; k++) if (down[k] && up[k]) on.push(k);
  edges.forEach(function (e, j) { if (down[e.src] && up[e.src] && down[e.dst] && up[e.dst])
                                    es.push(j); });
  markEls("on-path", on.map(function (k) { return nodeEls[k]; })
                      .concat(es.map(function (j) { return edges[j].el; })));
  count.textContent = on.length ? on.length + " nodes on the path" : "no path";
  if (on.length) reveal(a);
}
pathBtn.addEventListener("click", showPath);
clearBtn.addEventListener("click", function () {
  ["on-path", "match", "sel", "fwd"].forEach(function (c) { mark(c, []); });
  search.value = ""; count.textContent = ""; panel.textContent = "";
  panel.appendChild(el("p", {"class": "note"}, "Click a node to see what it computes."));
});
panel.appendChild(el("p", {"class": "note"},
  "Click a node to see its op, type, provenance and generated statement. " +
  N.length + " nodes: " + data.counts.inputs + " inputs, " + data.counts.forward +
  " forward, " + data.counts.derivative + " derivative."));
document.body.setAttribute("data-ready", "1");
})();
"""
