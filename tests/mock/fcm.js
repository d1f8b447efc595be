// A mock of FCM HTTP v1 and of Google's OAuth token endpoint.
//   POST /token: grant_type jwt-bearer; the assertion must be an RS256 JWT
//     that verifies against the service account's key (--sa FILE) with
//     iss = client_email, aud = token_uri, the firebase.messaging scope and
//     exp = iat + 3600. Answers {"access_token", "expires_in": 3600}.
//   POST /v1/projects/{project}/messages:send with "Authorization: Bearer"
//     a token it issued; data values must be strings, data keys not FCM's
//     reserved ones (from, message_type, google.*, gcm.*), and the message
//     only members FCM knows (400 INVALID_ARGUMENT otherwise).
// Random faults with --faults and --seed, answers logged with --answers
// (common.js). Faults by the device token:
//   unregistered (404 UNREGISTERED), invalid (400 INVALID_ARGUMENT),
//   mismatch (403 SENDER_ID_MISMATCH), quota (429 QUOTA_EXCEEDED, Retry-After: 9),
//   unavailable (503), internal (500), expire (401 the first time: the
//   token is revoked, so the sender must fetch a new one), always401, slow, drop.
'use strict';
const http = require('http');
const crypto = require('crypto');
const fs = require('fs');
const { options, logger, ready, readBody, transportFault, b64urlJson, randomFaults,
        answers } = require('./common');

const o = options(process.argv);
const log = logger(o.log);
const fault = randomFaults(o);
const answer = answers(o.answers);
const sa = JSON.parse(fs.readFileSync(o.sa, 'utf8'));
const pub = crypto.createPublicKey(sa.private_key);
const tokens = new Set();
let expireFired = false;
let issued = 0, sent = 0;

function fcmError(res, status, st, code, message, headers) {
  const details = code ? [{ '@type': 'type.googleapis.com/google.firebase.fcm.v1.FcmError', errorCode: code }] : [];
  res.writeHead(status, Object.assign({ 'Content-Type': 'application/json' }, headers || {}));
  res.end(JSON.stringify({ error: { code: status, message, status: st, details } }));
}

function tokenEndpoint(req, res, body) {
  const form = Object.fromEntries(new URLSearchParams(body));
  const fail = (why) => {
    log({ path: req.url, token: 'refused', why });
    res.writeHead(400, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ error: 'invalid_grant', error_description: why }));
  };
  if (form.grant_type !== 'urn:ietf:params:oauth:grant-type:jwt-bearer') return fail('grant_type');
  const parts = (form.assertion || '').split('.');
  if (parts.length !== 3) return fail('not a JWT');
  const head = b64urlJson(parts[0]), claims = b64urlJson(parts[1]);
  if (head.alg !== 'RS256') return fail('alg');
  const ok = crypto.verify('sha256', Buffer.from(parts[0] + '.' + parts[1]), pub,
                           Buffer.from(parts[2], 'base64url'));
  if (!ok) return fail('Invalid JWT Signature.');
  if (claims.iss !== sa.client_email) return fail('iss');
  if (claims.aud !== sa.token_uri) return fail('aud');
  if (claims.scope !== 'https://www.googleapis.com/auth/firebase.messaging') return fail('scope');
  if (claims.exp - claims.iat !== 3600) return fail('exp');
  if (Math.abs(claims.iat - Date.now() / 1000) > 300) return fail('iat');
  const t = 'ya29.mock-' + (++issued) + '-' + crypto.randomBytes(12).toString('hex');
  tokens.add(t);
  log({ path: req.url, token: 'issued', n: issued });
  res.writeHead(200, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify({ access_token: t, expires_in: 3600, token_type: 'Bearer' }));
}

// What FCM refuses in a message, as its INVALID_ARGUMENT text, or null:
// a member FCM does not know, a reserved data key, a notification that is
// not an object of strings, an android that is not an object.
const MESSAGE_KEYS = new Set(['name', 'token', 'topic', 'condition', 'notification', 'data',
                              'android', 'apns', 'webpush', 'fcm_options']);
function checkMessage(msg) {
  for (const k of Object.keys(msg))
    if (!MESSAGE_KEYS.has(k)) return 'Invalid JSON payload received. Unknown name "' + k + '" at \'message\'';
  for (const k of Object.keys(msg.data || {}))
    if (k === 'from' || k === 'message_type' || k.startsWith('google.') || k.startsWith('gcm.'))
      return 'Invalid data payload key: ' + k;
  const n = msg.notification;
  if (n !== undefined && (typeof n !== 'object' || n === null || Array.isArray(n)))
    return 'notification must be an object';
  for (const v of Object.values(n || {}))
    if (typeof v !== 'string') return 'notification values must be strings';
  const a = msg.android;
  if (a !== undefined && (typeof a !== 'object' || a === null || Array.isArray(a)))
    return 'android must be an object';
  return null;
}

const server = http.createServer((req, res) => {
  readBody(req, (body) => {
    if (req.url === '/token') return tokenEndpoint(req, res, body);
    const auth = (req.headers.authorization || '').replace(/^Bearer /, '');
    let msg = null;
    try { msg = JSON.parse(body).message; } catch (e) { /* checked below */ }
    log({ method: req.method, path: req.url, headers: req.headers, body: msg });
    const m = /^\/v1\/projects\/([^/]+)\/messages:send$/.exec(req.url);
    if (req.method !== 'POST' || !m || m[1] !== sa.project_id)
      return fcmError(res, 404, 'NOT_FOUND', null, 'no such project');
    if (!tokens.has(auth))
      return fcmError(res, 401, 'UNAUTHENTICATED', null, 'Request had invalid authentication credentials.');
    if (!msg || typeof msg.token !== 'string')
      return fcmError(res, 400, 'INVALID_ARGUMENT', 'INVALID_ARGUMENT', 'no message.token');
    for (const v of Object.values(msg.data || {}))
      if (typeof v !== 'string')
        return fcmError(res, 400, 'INVALID_ARGUMENT', 'INVALID_ARGUMENT', 'data values must be strings');
    const bad = checkMessage(msg);
    if (bad) return fcmError(res, 400, 'INVALID_ARGUMENT', 'INVALID_ARGUMENT', bad);
    const t = msg.token;
    const dropped = answer(res, t);
    const random = fault();
    if (random === 'drop') { dropped(0); return transportFault('drop', res, req.socket); }
    if (random === '503') return fcmError(res, 503, 'UNAVAILABLE', 'UNAVAILABLE', 'The service is currently unavailable.');
    if (random === '429') return fcmError(res, 429, 'RESOURCE_EXHAUSTED', 'QUOTA_EXCEEDED', 'Quota exceeded.', { 'Retry-After': '1' });
    if (transportFault(t, res, req.socket)) return;
    switch (t) {
    case 'unregistered': return fcmError(res, 404, 'NOT_FOUND', 'UNREGISTERED', 'Requested entity was not found.');
    case 'invalid': return fcmError(res, 400, 'INVALID_ARGUMENT', 'INVALID_ARGUMENT', 'The registration token is not a valid FCM registration token');
    case 'mismatch': return fcmError(res, 403, 'PERMISSION_DENIED', 'SENDER_ID_MISMATCH', 'SenderId mismatch');
    case 'quota': return fcmError(res, 429, 'RESOURCE_EXHAUSTED', 'QUOTA_EXCEEDED', 'Quota exceeded.', { 'Retry-After': '9' });
    case 'unavailable': return fcmError(res, 503, 'UNAVAILABLE', 'UNAVAILABLE', 'The service is currently unavailable.');
    case 'internal': return fcmError(res, 500, 'INTERNAL', 'INTERNAL', 'Internal error.');
    case 'always401': return fcmError(res, 401, 'UNAUTHENTICATED', null, 'Request had invalid authentication credentials.');
    case 'expire':
      if (!expireFired) {
        expireFired = true;
        tokens.delete(auth);
        return fcmError(res, 401, 'UNAUTHENTICATED', null, 'Request had invalid authentication credentials.');
      }
    }
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ name: 'projects/' + sa.project_id + '/messages/0:' + (++sent) }));
  });
});
ready(server, o.port);
