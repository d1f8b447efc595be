// Shared by the mock gateways: command-line options, the request log (one
// JSON line per request, for the tests to read), "READY <port>" once
// listening, exit when stdin closes, and the faults every mock injects.
'use strict';
const fs = require('fs');
const http = require('http');

function options(argv) {
  const o = {};
  for (let i = 2; i < argv.length; i++) {
    if (!argv[i].startsWith('--')) throw new Error('bad argument ' + argv[i]);
    const k = argv[i].slice(2);
    o[k] = i + 1 < argv.length && !argv[i + 1].startsWith('--') ? argv[++i] : true;
  }
  return o;
}

function logger(path) {
  if (!path) return () => {};
  const fd = fs.openSync(path, 'a');
  return (entry) => fs.writeSync(fd, JSON.stringify(entry) + '\n');
}

function ready(server, port) {
  server.listen(port || 0, '127.0.0.1', () => {
    process.stdout.write('READY ' + server.address().port + '\n');
  });
  process.stdin.on('end', () => process.exit(0));
  process.stdin.on('error', () => process.exit(0));
  process.stdin.resume();
  process.on('SIGTERM', () => process.exit(0));
}

function readBody(req, cb) {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => cb(Buffer.concat(chunks).toString('utf8')));
}

// Faults every mock can inject, chosen by a word in the address:
//   slow: answer after 3 s (longer than the tests' timeout)
//   drop: close the connection without answering
function transportFault(word, res, socket) {
  if (word === 'slow') {
    setTimeout(() => { if (!res.writableEnded) res.end('{}'); }, 3000);
    return true;
  }
  if (word === 'drop') {
    socket.destroy();
    return true;
  }
  return false;
}

// Random faults for load tests, from --faults "503=10,429=5,drop=1"
// (percent of requests) drawn from a PRNG seeded by --seed, so a run can
// be repeated. Returns '503', '429', 'drop' or ''.
function randomFaults(o) {
  const table = [];
  for (const kv of String(o.faults || '').split(',').filter(Boolean)) {
    const [k, v] = kv.split('=');
    table.push([k, Number(v) / 100]);
  }
  let a = Number(o.seed || 1) >>> 0;
  const next = () => { // mulberry32
    a = (a + 0x6D2B79F5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return () => {
    let r = next();
    for (const [k, p] of table) {
      if (r < p) return k;
      r -= p;
    }
    return '';
  };
}

// --answers FILE: one line per answer, "<ms since epoch> <status> <key>",
// written before the answer leaves (0 for a dropped connection), so a
// test can count what the gateway accepted and when it said 429.
function answers(path) {
  if (!path) return () => {};
  const fd = fs.openSync(path, 'a');
  return (res, key) => {
    const wh = res.writeHead;
    res.writeHead = function (status, ...rest) {
      fs.writeSync(fd, Date.now() + ' ' + status + ' ' + key + '\n');
      return wh.call(this, status, ...rest);
    };
    return (status) => fs.writeSync(fd, Date.now() + ' ' + status + ' ' + key + '\n');
  };
}

function b64urlJson(s) {
  return JSON.parse(Buffer.from(s, 'base64url').toString('utf8'));
}

// Delivery reports pushed to --report URL as a JSON array, as Aliyun and
// Tencent push them: reports gathered for 100 ms go in one POST; each
// POST's status and body are logged ({report: ..., status, answer}).
function reporter(url, log) {
  if (!url) return () => {};
  let batch = [];
  const flush = () => {
    const body = JSON.stringify(batch);
    batch = [];
    const req = http.request(url, { method: 'POST', headers: { 'Content-Type': 'application/json' } },
      (res) => readBody(res, (answer) => log({ report: JSON.parse(body), status: res.statusCode, answer })));
    req.on('error', (e) => log({ report: JSON.parse(body), error: String(e) }));
    req.end(body);
  };
  return (r) => {
    if (batch.length === 0) setTimeout(flush, 100);
    batch.push(r);
  };
}

module.exports = { options, logger, ready, readBody, transportFault, b64urlJson, randomFaults,
                   answers, reporter };
