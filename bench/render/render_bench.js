#!/usr/bin/env node
// Rendering benchmark, JavaScript side: mustache.js (the reference Mustache
// implementation, pinned in package.json) on the cases of a manifest
// (bench/render/cases.json). The counterpart of render_bench.c: the same
// options, the same steps, the same output lines, so that
// bench/render_vs_mustachejs.sh can run both on the same templates and data.
//
// Every template and partial is parsed once up front with Mustache.parse(),
// which fills mustache.js's template cache, as its README advises; the timed
// loop then calls Mustache.render(), the public API, which finds the parsed
// tokens in that cache. By default the rendered string is not copied or
// encoded inside the timed loop (only its length is read), so the reference
// is not charged for turning its result (a V8 rope of concatenated pieces)
// into the UTF-8 bytes a socket or file needs, which Seintje's engine writes
// as it renders; --bytes charges it for that too (Buffer.from per render).
//
// Escaping: mustache.js escapes & < > " ' / ` = by default, Seintje's engine
// (like the Mustache specification) only & < > ". For "escape": "html" the
// render is given escapeSpec() below, the spec's four characters written the
// way mustache.js writes its own escapeHtml (one regular expression, one
// table look-up per match), so that the outputs are identical and the work
// is the same; for "escape": "none" it is given String(), as Seintje renders
// plain-text parts without escaping.
//
//   node render_bench.js --root . --write /tmp/out --seconds 1 cases.json
//
// stdout: tab-separated lines
//   engine     mustache.js VERSION   node VERSION
//   case       NAME   RENDERS   SECONDS   BYTES_PER_RENDER (UTF-8)
//   maxrss_kb  KB     (process.resourceUsage().maxRSS: peak resident set)
'use strict';

const fs = require('fs');
const path = require('path');
const { performance } = require('perf_hooks');
const Mustache = require('mustache');

const BATCH = 16; // renders between two clock readings, as in render_bench.c

const USAGE = `usage: node render_bench.js [--root DIR] [--write DIR] [--seconds S] [--warmup S]
                           MANIFEST.json

Renders the cases of MANIFEST (bench/render/cases.json) with mustache.js:
each template parsed once, then rendered many times.
  --root DIR     paths in the manifest are relative to DIR (default .)
  --write DIR    write each case's output, rendered once, to DIR/NAME.out
  --seconds S    time each case for at least S seconds (default 0: no timing)
  --warmup S     untimed renders before each timed case (default 0.2)
  --bytes        turn each result into UTF-8 bytes (Buffer.from) inside the
                 timed loop, as a sender must (default: only the render)
  -h, --help     show this help

stdout: tab-separated lines 'engine', 'case NAME RENDERS SECONDS BYTES',
'maxrss_kb KB'. Exit codes: 0 ok, 1 a render failed, 2 bad usage or input.
`;

const specEntities = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' };
function escapeSpec(s) {
  return String(s).replace(/[&<>"]/g, (c) => specEntities[c]);
}

function fail(code, msg) {
  process.stderr.write(`render_bench.js: ${msg}\n`);
  process.exit(code);
}

function parseArgs(argv) {
  const a = { root: '.', write: null, seconds: 0, warmup: 0.2, bytes: false, manifest: null };
  const seconds = (v) => {
    const x = Number(v);
    if (v === undefined || v === '' || !(x >= 0 && x <= 3600))
      fail(2, `bad option (seconds are 0..3600)\n${USAGE}`);
    return x;
  };
  for (let i = 0; i < argv.length; i++) {
    const o = argv[i];
    if (o === '-h' || o === '--help') {
      process.stdout.write(USAGE);
      process.exit(0);
    } else if (o === '--root') a.root = argv[++i];
    else if (o === '--write') a.write = argv[++i];
    else if (o === '--seconds') a.seconds = seconds(argv[++i]);
    else if (o === '--warmup') a.warmup = seconds(argv[++i]);
    else if (o === '--bytes') a.bytes = true;
    else if (o.startsWith('-') || a.manifest !== null) fail(2, `bad usage\n${USAGE}`);
    else a.manifest = o;
  }
  if (a.manifest === null || a.root === undefined || a.write === undefined)
    fail(2, `bad usage\n${USAGE}`);
  return a;
}

function loadCase(root, j) {
  const { name, template, data, escape } = j;
  const partials = j.partials || {};
  if (!name || !template || !data || (escape !== 'html' && escape !== 'none'))
    fail(2, `case ${name || '?'}: needs "name", "template", "data" and "escape" ("html" or "none")`);
  const read = (rel) => {
    try {
      return fs.readFileSync(path.join(root, rel), 'utf8');
    } catch (e) {
      return fail(2, `${path.join(root, rel)}: ${e.message}`);
    }
  };
  const c = {
    name,
    template: read(template),
    partials: {},
    view: null,
    config: { escape: escape === 'html' ? escapeSpec : String },
  };
  for (const [pname, prel] of Object.entries(partials)) c.partials[pname] = read(prel);
  try {
    c.view = JSON.parse(read(data));
  } catch (e) {
    fail(2, `${path.join(root, data)}: ${e.message}`);
  }
  Mustache.parse(c.template);
  for (const src of Object.values(c.partials)) Mustache.parse(src);
  return c;
}

function renderOnce(c) {
  return Mustache.render(c.template, c.view, c.partials, c.config);
}

// Renders c in batches until at least `seconds` have passed.
function renderFor(c, seconds, bytes) {
  let n = 0;
  let sink = 0;
  let t;
  const t0 = performance.now();
  do {
    if (bytes) for (let i = 0; i < BATCH; i++) sink += Buffer.from(renderOnce(c)).length;
    else for (let i = 0; i < BATCH; i++) sink += renderOnce(c).length;
    n += BATCH;
  } while ((t = (performance.now() - t0) / 1000) < seconds);
  if (sink === 0) fail(1, `${c.name}: empty output`);
  return { renders: n, elapsed: t };
}

function main() {
  const a = parseArgs(process.argv.slice(2));
  let manifest;
  try {
    manifest = JSON.parse(fs.readFileSync(a.manifest, 'utf8'));
  } catch (e) {
    fail(2, `${a.manifest}: ${e.message}`);
  }
  if (!Array.isArray(manifest.cases) || manifest.cases.length === 0)
    fail(2, `${a.manifest}: expected {"cases": [...]}`);
  const cases = manifest.cases.map((j) => loadCase(a.root, j));
  const mode = a.bytes ? ', results to UTF-8 bytes' : '';
  process.stdout.write(`engine\tmustache.js ${Mustache.version}\tnode ${process.version}${mode}\n`);
  for (const c of cases) {
    let once;
    try {
      once = renderOnce(c);
    } catch (e) {
      fail(1, `${c.name}: ${e.message}`);
    }
    if (a.write) fs.writeFileSync(path.join(a.write, `${c.name}.out`), once);
    if (a.seconds <= 0) continue;
    renderFor(c, a.warmup, a.bytes);
    const r = renderFor(c, a.seconds, a.bytes);
    process.stdout.write(
      `case\t${c.name}\t${r.renders}\t${r.elapsed.toFixed(6)}\t${Buffer.byteLength(once)}\n`
    );
  }
  process.stdout.write(`maxrss_kb\t${process.resourceUsage().maxRSS}\n`);
}

main();
