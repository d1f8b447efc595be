// A mock of the WeChat official account API: POST /cgi-bin/stable_token
// ({"grant_type": "client_credential", "appid", "secret"} checked against
// --appid and --secret; answers {"access_token", "expires_in": 7200}, a
// new token each time, all of them valid until --revoke) and POST
// /cgi-bin/message/template/send?access_token=T (the token checked, the
// body's touser, template_id and data of {"value"} objects). Requests are
// logged with --log (common.js), tokens counted in the log as {token: n}.
// Faults by the openid's end:
//   ...43004 require subscribe   ...40003 invalid openid
//   ...45009 api daily quota     ...40037 invalid template_id
//   ...48001 api unauthorized    ...-1 system busy   ...500 HTTP 500
//   ...42001 the token expired, the first time for the openid (then it works)
//   ...40001 the token is invalid, always (a new one does not help)
//   ...slow answer late; ...drop the connection
'use strict';
const http = require('http');
const crypto = require('crypto');
const { options, logger, ready, readBody, transportFault } = require('./common');

const o = options(process.argv);
const log = logger(o.log);
const tokens = new Set();
const expiredOnce = new Set(); // openids that were answered 42001 already
let issued = 0;
let msgid = 200228332;

function reply(res, status, body) {
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify(body));
}

function token(req, res, body) {
  let j = null;
  try { j = JSON.parse(body); } catch (e) { j = null; }
  if (!j || j.grant_type !== 'client_credential') return reply(res, 200, { errcode: 40002, errmsg: 'invalid grant_type' });
  if (j.appid !== o.appid) return reply(res, 200, { errcode: 40013, errmsg: 'invalid appid' });
  if (j.secret !== o.secret) return reply(res, 200, { errcode: 40125, errmsg: 'invalid appsecret' });
  const t = 'WXTOKEN' + crypto.randomBytes(12).toString('hex');
  tokens.add(t);
  log({ token: ++issued });
  reply(res, 200, { access_token: t, expires_in: 7200 });
}

const faults = {
  43004: 'require subscribe', 40003: 'invalid openid', 45009: 'reach max api daily quota limit',
  40037: 'invalid template_id', 48001: 'api unauthorized', '-1': 'system error',
};

function send(req, res, url, body) {
  let j = null;
  try { j = JSON.parse(body); } catch (e) { j = null; }
  const t = url.searchParams.get('access_token');
  if (!tokens.has(t)) return reply(res, 200, { errcode: 40001, errmsg: 'invalid credential, access_token is invalid or not latest' });
  if (!j || !j.touser || !j.template_id || typeof j.data !== 'object' ||
      Object.values(j.data).some((v) => !v || typeof v.value !== 'string'))
    return reply(res, 200, { errcode: 47001, errmsg: 'data format error' });
  const to = j.touser;
  const word = to.endsWith('slow') ? 'slow' : to.endsWith('drop') ? 'drop' : '';
  if (transportFault(word, res, req.socket)) return;
  if (to.endsWith('500')) { res.writeHead(500); return res.end(); }
  if (to.endsWith('40001')) return reply(res, 200, { errcode: 40001, errmsg: 'invalid credential' });
  if (to.endsWith('42001') && !expiredOnce.has(to)) {
    expiredOnce.add(to);
    return reply(res, 200, { errcode: 42001, errmsg: 'access_token expired' });
  }
  const k = Object.keys(faults).find((c) => to.endsWith(c));
  if (k) return reply(res, 200, { errcode: Number(k), errmsg: faults[k] });
  reply(res, 200, { errcode: 0, errmsg: 'ok', msgid: ++msgid });
}

const server = http.createServer((req, res) => {
  readBody(req, (body) => {
    const url = new URL(req.url, 'http://mock');
    let j = null;
    try { j = JSON.parse(body); } catch (e) { j = null; }
    log({ method: req.method, path: url.pathname, json: url.pathname.endsWith('token') ? null : j });
    if (req.method === 'POST' && url.pathname === '/cgi-bin/stable_token') return token(req, res, body);
    if (req.method === 'POST' && url.pathname === '/cgi-bin/message/template/send') return send(req, res, url, body);
    reply(res, 404, { errcode: 404, errmsg: 'not found' });
  });
});
ready(server, o.port);
