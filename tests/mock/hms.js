// A mock of Huawei Push Kit and its OAuth 2.0 token endpoint.
//   POST /oauth2/v3/token: grant_type=client_credentials, client_id (--client)
//     and client_secret (--secret), checked here; answers {"access_token",
//     "expires_in" (--ttl, 3600), "token_type": "Bearer"}, or 400
//     {"error": 1101, "error_description": "invalid client"}.
//   POST /v1/{--app}/messages:send with "Authorization: Bearer" a token it
//     issued and has not expired: message.token (one), android.notification
//     with title or body and click_action {type 1, intent} or {type 3};
//     data, when given, a string of JSON. Answers {"code": "80000000",
//     "msg": "Success", "requestId"}, or a code: 80200001 (no such token,
//     401), 80200003 (expired token, 401), 80100003 (bad message, 400).
// Requests logged with --log (the form's secret blanked), answers with
// --answers (common.js). Faults by the device token's last characters:
//   ...0007 80300007 invalid token            ...0008 80300008 message too big
//   ...0010 80300010 token count              ...0201 401 80200001 always
//   ...0203 the bearer expires (401 80200003), once per device token
//   ...0002 403 80300002 the app may not push
//   ...0100 200 80100000 with the token among illegal_tokens
//   ...0103 400 80100003 incorrect message structure
//   ...1001 500 81000001 system error         ...0429 429
//   ...0503 503                               ...0999 slow; ...0000 drop
'use strict';
const http = require('http');
const crypto = require('crypto');
const { options, logger, ready, readBody, transportFault, answers } = require('./common');

const o = options(process.argv);
const log = logger(o.log);
const answer = answers(o.answers);
const valid = new Set(), expired = new Set(), expiredFor = new Set();
let issued = 0, n = 0;

function reply(res, status, body) {
  res.writeHead(status, { 'Content-Type': 'application/json;charset=UTF-8' });
  res.end(JSON.stringify(body));
}

const code = (c, msg) => ({ code: c, msg, requestId: String(++n) });

function token(req, res, body) {
  const f = Object.fromEntries(new URLSearchParams(body));
  log({ path: req.url, grant_type: f.grant_type, client_id: f.client_id, secret_ok: f.client_secret === o.secret });
  if (f.grant_type !== 'client_credentials' || f.client_id !== o.client || f.client_secret !== o.secret)
    return reply(res, 400, { error: 1101, sub_error: 20203, error_description: 'invalid client' });
  const t = 'CgB6e3x9' + (++issued) + crypto.randomBytes(16).toString('base64');
  valid.add(t);
  reply(res, 200, { access_token: t, expires_in: Number(o.ttl || 3600), token_type: 'Bearer' });
}

function badMessage(m) {
  if (!m || !Array.isArray(m.token) || m.token.length !== 1) return 'token';
  const nt = m.android && m.android.notification;
  if (!nt || (typeof nt.title !== 'string' && typeof nt.body !== 'string')) return 'notification';
  const ca = nt.click_action;
  if (!ca || !(ca.type === 3 || (ca.type === 1 && typeof ca.intent === 'string'))) return 'click_action';
  if (m.data !== undefined && typeof m.data !== 'string') return 'data';
  if (m.android.ttl !== undefined && !/^\d+s$/.test(m.android.ttl)) return 'ttl';
  return '';
}

const faults = {
  '0007': [400, '80300007', 'All the tokens are invalid'],
  '0008': [400, '80300008', 'The message body size exceeds the default value'],
  '0010': [400, '80300010', 'The number of tokens in the message body exceeds the default value'],
  '0201': [401, '80200001', 'Oauth authentication error'],
  '0002': [403, '80300002', 'The current app does not have the permission to send messages'],
  1001: [500, '81000001', 'System inner error'],
  '0103': [400, '80100003', 'Incorrect message structure'],
};

function send(req, res, body) {
  let j = null;
  try { j = JSON.parse(body); } catch (e) { j = null; }
  const bearer = (/^Bearer (.+)$/.exec(req.headers.authorization || '') || [])[1];
  log({ method: req.method, path: req.url, bearer_ok: valid.has(bearer), json: j });
  if (req.url !== '/v1/' + o.app + '/messages:send') return reply(res, 404, code('80100001', 'no such app'));
  if (expired.has(bearer)) return reply(res, 401, code('80200003', 'OAuth token expired'));
  if (!valid.has(bearer)) return reply(res, 401, code('80200001', 'Oauth authentication error'));
  const m = j && j.message;
  const why = badMessage(m);
  if (why) return reply(res, 400, code('80100003', 'Incorrect message structure: ' + why));
  const t = m.token[0];
  answer(res, t);
  const word = t.endsWith('0999') ? 'slow' : t.endsWith('0000') ? 'drop' : '';
  if (transportFault(word, res, req.socket)) return;
  if (t.endsWith('0203') && !expiredFor.has(t)) {
    expiredFor.add(t);
    valid.delete(bearer);
    expired.add(bearer);
    return reply(res, 401, code('80200003', 'OAuth token expired'));
  }
  if (t.endsWith('0100')) // some tokens refused: 200 with the illegal ones
    return reply(res, 200, code('80100000', JSON.stringify({ success: 0, failure: 1, illegal_tokens: [t] })));
  const f = faults[t.slice(-4)];
  if (f) return reply(res, f[0], code(f[1], f[2]));
  if (t.endsWith('0429')) return reply(res, 429, {});
  if (t.endsWith('0503')) return reply(res, 503, {});
  reply(res, 200, code('80000000', 'Success'));
}

const server = http.createServer((req, res) => {
  readBody(req, (body) => {
    if (req.method === 'POST' && req.url === '/oauth2/v3/token') return token(req, res, body);
    if (req.method === 'POST') return send(req, res, body);
    reply(res, 405, {});
  });
});
ready(server, o.port);
