// A mock of APNs: HTTP/2 over TLS (--cert, --certkey), POST /3/device/{token}
// with an ES256 provider token that verifies against --key (the .p8; its
// public half) with kid = --kid and iss = --team. Answers 200 with the
// apns-id, or {"reason": ...} as Apple does. A payload over 4,096 bytes is
// 413; a background push must carry content-available 1 and no alert,
// badge or sound, an alert push one of those (400 InvalidPushType); a
// badge must be an integer.
// Each logged request has `iat`, its provider token's issued-at (or null),
// so that a test can count the tokens a sender signed.
// Faults by the device token's first eight hex digits:
//   dead0410 410 Unregistered, dead0400 400 BadDeviceToken,
//   dead0403 403 ExpiredProviderToken: the provider token used is expired from
//            then on (once per apns-id), so only a freshly signed one passes,
//   dead0429 429 TooManyRequests, dead0500 500, dead0503 503,
//   dead0413 413 PayloadTooLarge, dead0999 slow, dead0000 drop the connection.
'use strict';
const http2 = require('http2');
const crypto = require('crypto');
const fs = require('fs');
const { options, logger, ready, readBody, b64urlJson } = require('./common');

const o = options(process.argv);
const log = logger(o.log);
const pub = crypto.createPublicKey(fs.readFileSync(o.key));
const expired = new Set(); // provider tokens declared expired
const expiredFor = new Set(); // apns-ids whose first try expired a token

// The provider token's iat, unverified, or null.
function iatOf(auth) {
  const parts = (auth || '').replace(/^bearer /, '').split('.');
  try { return parts.length === 3 ? b64urlJson(parts[1]).iat : null; } catch (e) { return null; }
}

function verify(auth) {
  const parts = (auth || '').replace(/^bearer /, '').split('.');
  if (parts.length !== 3) return 'MissingProviderToken';
  let head, claims;
  try { head = b64urlJson(parts[0]); claims = b64urlJson(parts[1]); } catch (e) { return 'InvalidProviderToken'; }
  if (head.alg !== 'ES256' || head.kid !== o.kid) return 'InvalidProviderToken';
  if (claims.iss !== o.team || typeof claims.iat !== 'number') return 'InvalidProviderToken';
  const sig = Buffer.from(parts[2], 'base64url');
  if (sig.length !== 64) return 'InvalidProviderToken';
  const ok = crypto.verify('sha256', Buffer.from(parts[0] + '.' + parts[1]),
                           { key: pub, dsaEncoding: 'ieee-p1363' }, sig);
  return ok ? null : 'InvalidProviderToken';
}

const server = http2.createSecureServer({ cert: fs.readFileSync(o.cert), key: fs.readFileSync(o.certkey) });
server.on('stream', (stream, headers) => {
  readBody(stream, (body) => {
    const path = headers[':path'];
    const token = path.replace(/^\/3\/device\//, '');
    const id = headers['apns-id'] || crypto.randomUUID();
    let payload = null;
    try { payload = JSON.parse(body); } catch (e) { /* checked below */ }
    const entry = { method: headers[':method'], path, headers: Object.assign({}, headers), body: payload,
                    iat: iatOf(headers.authorization) };
    const answer = (status, reason) => {
      entry.status = status;
      log(entry);
      if (stream.destroyed) return;
      stream.respond({ ':status': status, 'apns-id': id, 'content-type': 'application/json' });
      stream.end(reason ? JSON.stringify({ reason }) : '');
    };
    if (headers[':method'] !== 'POST' || !path.startsWith('/3/device/')) return answer(404, 'BadPath');
    const bad = verify(headers.authorization);
    if (bad) return answer(403, bad);
    if (expired.has(headers.authorization)) return answer(403, 'ExpiredProviderToken');
    if (!headers['apns-topic']) return answer(400, 'MissingTopic');
    if (!payload || typeof payload.aps !== 'object') return answer(400, 'PayloadEmpty');
    if (Buffer.byteLength(body) > 4096) return answer(413, 'PayloadTooLarge');
    const aps = payload.aps;
    const visible = aps.alert !== undefined || aps.badge !== undefined || aps.sound !== undefined;
    const type = headers['apns-push-type'];
    if (type === 'background' && (visible || aps['content-available'] !== 1))
      return answer(400, 'InvalidPushType');
    if (type === 'alert' && !visible) return answer(400, 'InvalidPushType');
    if (aps.badge !== undefined && !Number.isInteger(aps.badge)) return answer(400, 'BadBadge');
    switch (token.slice(0, 8)) {
    case 'dead0999': setTimeout(() => answer(200), 3000); return;
    case 'dead0000': log(entry); stream.session.destroy(); return;
    case 'dead0410': return answer(410, 'Unregistered');
    case 'dead0400': return answer(400, 'BadDeviceToken');
    case 'dead0403':
      if (!expiredFor.has(id)) {
        expiredFor.add(id);
        expired.add(headers.authorization);
        return answer(403, 'ExpiredProviderToken');
      }
      return answer(200);
    case 'dead0429': return answer(429, 'TooManyRequests');
    case 'dead0500': return answer(500, 'InternalServerError');
    case 'dead0503': return answer(503, 'ServiceUnavailable');
    case 'dead0413': return answer(413, 'PayloadTooLarge');
    }
    answer(200);
  });
});
ready(server, o.port);
