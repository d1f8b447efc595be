// render.js: the template benchmark's reference side, mustache.js (the
// version pinned in package-lock.json). Same templates, same data pool, same
// loop as bench/render.c; prints contacts/s, the FNV-1a checksum of the
// first 1,000 renders, and the bytes rendered.
'use strict';
const fs = require('fs');
const path = require('path');
const Mustache = require('mustache');

const [dir, dataFile, nArg] = process.argv.slice(2);
const n = Number(nArg);
const read = (name) => fs.readFileSync(path.join(dir, name + '.mustache'), 'utf8');
const email = read('email'), sms = read('sms');
const partials = { button: read('button'), footer: read('footer') };
const pool = JSON.parse(fs.readFileSync(dataFile, 'utf8'));
// herald escapes & < > " ' in HTML; mustache.js also escapes / ` =, so use
// herald's set here to compare outputs byte for byte
const html = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
Mustache.escape = (s) => String(s).replace(/[&<>"']/g, (c) => html[c]);
Mustache.parse(email);
Mustache.parse(sms);
for (const k of Object.keys(partials)) Mustache.parse(partials[k]);

let sum = 14695981039346656037n, bytes = 0;
const prime = 1099511628211n, mask = (1n << 64n) - 1n;
const t0 = process.hrtime.bigint();
for (let i = 0; i < n; i++) {
  const d = pool[i % pool.length];
  const out = Mustache.render(email, d, partials) + Mustache.render(sms, d, partials, { escape: (s) => String(s) });
  bytes += out.length; // the data is ASCII: characters are bytes
  if (i < 1000) for (const b of Buffer.from(out, 'utf8')) sum = ((sum ^ BigInt(b)) * prime) & mask;
}
const secs = Number(process.hrtime.bigint() - t0) / 1e9;
console.log(`${Math.round(n / secs)} ${sum.toString(16).padStart(16, '0')} ${bytes}`);
