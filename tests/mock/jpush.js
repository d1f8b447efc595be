// A mock of JPush's Push API v3, POST /v3/push with HTTP Basic auth
// (--key app key, --secret master secret, checked here independently of
// herald: the header decoded with Buffer). The body must hold platform,
// audience.registration_id (one id) and notification.android.alert and
// notification.ios.alert; options.apns_production is a boolean. Answers
// as JPush does: 200 {"sendno", "msg_id"} with X-Rate-Limit-Limit,
// -Remaining and -Reset, or {"error": {"code", "message"}}. Requests are
// logged with --log, answers with --answers (common.js). Faults by the
// registration id's last characters:
//   ...1011 400 code 1011 (no such target)   ...1002 400 code 1002 (missing parameter)
//   ...1003 400 code 1003 (invalid value)    ...2002 429 code 2002, X-Rate-Limit-Reset: 7
//   ...2003 403 code 2003 (app limited)      ...0429 429, no code, X-Rate-Limit-Reset: 3
//   ...1000 500 code 1000 (system error)     ...0503 503
//   ...1008 400 code 1008 (invalid app key)
//   ...1013 400 code 1003 naming the registration_id as invalid
//   ...quot 200 accepted, X-Rate-Limit-Remaining: 0, X-Rate-Limit-Reset: 2
//   ...0999 slow; ...0000 drop the connection
'use strict';
const http = require('http');
const { options, logger, ready, readBody, transportFault, answers } = require('./common');

const o = options(process.argv);
const log = logger(o.log);
const answer = answers(o.answers);
let n = 0;

function reply(res, status, body, headers) {
  res.writeHead(status, Object.assign({ 'Content-Type': 'application/json',
    'X-Rate-Limit-Limit': '600' }, headers || {}));
  res.end(JSON.stringify(body));
}

const error = (code, message) => ({ error: { code, message }, msg_id: String(++n) });

// Why the Basic auth is not app key:master secret, or ''.
function badAuth(h) {
  const m = /^Basic ([A-Za-z0-9+/=]+)$/.exec(h || '');
  if (!m) return 'no Basic auth';
  const [key, secret] = Buffer.from(m[1], 'base64').toString('utf8').split(':');
  return key === o.key && secret === o.secret ? '' : 'Authen failed';
}

// Why the body is not a push JPush takes, or ''.
function badBody(j) {
  if (!j || !Array.isArray(j.platform)) return 'platform';
  const ids = j.audience && j.audience.registration_id;
  if (!Array.isArray(ids) || ids.length !== 1 || typeof ids[0] !== 'string') return 'audience';
  const nt = j.notification || {};
  if (!nt.android || typeof nt.android.alert !== 'string') return 'notification.android.alert';
  if (!nt.ios || !nt.ios.alert) return 'notification.ios.alert';
  const op = j.options || {};
  if (typeof op.apns_production !== 'boolean') return 'options.apns_production';
  if (op.time_to_live !== undefined && !(Number.isInteger(op.time_to_live) && op.time_to_live >= 0))
    return 'options.time_to_live';
  return '';
}

const faults = {
  1011: [400, 1011, 'cannot find user by this audience', {}],
  1002: [400, 1002, 'Missing parameter', {}],
  1003: [400, 1003, 'Parameter value is invalid', {}],
  1013: [400, 1003, 'audience registration_id value is invalid', {}],
  2002: [429, 2002, 'Request times of the app exceeds the limit', { 'X-Rate-Limit-Remaining': '0', 'X-Rate-Limit-Reset': '7' }],
  2003: [403, 2003, 'The app is limited to call the API', {}],
  1000: [500, 1000, 'Server internal error', {}],
  1008: [400, 1008, 'app_key is invalid', {}],
};

const server = http.createServer((req, res) => {
  readBody(req, (body) => {
    let j = null;
    try { j = JSON.parse(body); } catch (e) { j = null; }
    log({ method: req.method, path: req.url, headers: req.headers, json: j });
    if (req.method !== 'POST' || req.url !== '/v3/push') return reply(res, 404, error(1001, 'Only POST /v3/push'));
    const bad = badAuth(req.headers.authorization);
    if (bad) return reply(res, 401, error(1004, bad));
    const why = badBody(j);
    if (why) return reply(res, 400, error(1003, 'Parameter value is invalid: ' + why));
    const id = j.audience.registration_id[0];
    answer(res, id);
    const word = id.endsWith('0999') ? 'slow' : id.endsWith('0000') ? 'drop' : '';
    if (transportFault(word, res, req.socket)) return;
    const f = faults[id.slice(-4)];
    if (f) return reply(res, f[0], error(f[1], f[2]), f[3]);
    if (id.endsWith('0429')) return reply(res, 429, {}, { 'X-Rate-Limit-Reset': '3' });
    if (id.endsWith('0503')) return reply(res, 503, {});
    const left = id.endsWith('quot') ? '0' : '599';
    reply(res, 200, { sendno: '0', msg_id: String(18100000000 + ++n) },
          { 'X-Rate-Limit-Remaining': left, 'X-Rate-Limit-Reset': id.endsWith('quot') ? '2' : '60' });
  });
});
ready(server, o.port);
