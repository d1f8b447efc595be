// A mock of Aliyun's Dysmsapi SendSms (2017-05-25): an RPC-style POST to /
// with the parameters in the query, signed with the V3 scheme
// (ACS3-HMAC-SHA256). The signature is verified here with node:crypto,
// independently of herald's signer: the canonical query (names sorted,
// RFC 3986 encoding), the signed headers as sent, the payload's SHA-256,
// HMAC-SHA256 with --secret; also the key id (--id), x-acs-action and
// -version, a date within 15 minutes and a nonce never seen before.
// Answers as Aliyun does: {"Code":"OK","BizId":...} or {"Code":..., "Message":...}.
// Answers logged with --answers, requests with --log (common.js). Faults by
// the number's last digits:
//   ...1001 isv.BUSINESS_LIMIT_CONTROL   ...1002 Throttling.User (400)
//   ...1003 isv.MOBILE_NUMBER_ILLEGAL    ...1004 isv.MOBILE_COUNT_OVER_LIMIT
//   ...1005 isv.AMOUNT_NOT_ENOUGH        ...1006 isv.SMS_TEMPLATE_ILLEGAL
//   ...1007 isv.SMS_SIGNATURE_ILLEGAL
//   ...0500 500 InternalError, ...0503 503 ServiceUnavailable
//   ...0999 slow; ...0000 drop the connection
// With --report URL, each accepted message's SmsReport is pushed there
// (common.js reporter): delivered, except ...2001 (MN:0001, no such
// number) and ...2002 (EXPIRED, the handset off); the report is logged too.
'use strict';
const http = require('http');
const crypto = require('crypto');
const { options, logger, ready, readBody, transportFault, randomFaults, answers, reporter } = require('./common');

const o = options(process.argv);
const log = logger(o.log);
const fault = randomFaults(o);
const answer = answers(o.answers);
const nonces = new Set();
const report = reporter(o.report, log);
const outcomes = {
  2001: [false, 'MN:0001', '空号'],
  2002: [false, 'EXPIRED', '短信过期'],
};
const cst = () => new Date(Date.now() + 8 * 3600 * 1000).toISOString().slice(0, 19).replace('T', ' ');
let n = 0;

const sha256 = (s) => crypto.createHash('sha256').update(s, 'utf8').digest('hex');
const pct = (s) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());

function reply(res, status, body) {
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify(Object.assign({ RequestId: crypto.randomUUID() }, body)));
}

// Why the request's signature is not right, or '' when it is.
function badSignature(req, url, body) {
  const m = /^ACS3-HMAC-SHA256 Credential=([^,]+),SignedHeaders=([^,]+),Signature=([0-9a-f]{64})$/
    .exec(req.headers.authorization || '');
  if (!m) return 'IncompleteSignature';
  if (m[1] !== o.id) return 'InvalidAccessKeyId.NotFound';
  const names = m[2].split(';');
  const acs = Object.keys(req.headers).filter((h) => h.startsWith('x-acs-'));
  if (!names.includes('host') || acs.some((h) => !names.includes(h)) ||
      [...names].sort().join(';') !== m[2]) return 'IncompleteSignature';
  if (req.headers['x-acs-content-sha256'] !== sha256(body)) return 'SignatureDoesNotMatch';
  const query = [...url.searchParams.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0]))
    .map(([k, v]) => pct(k) + '=' + pct(v)).join('&');
  const canonical = ['POST', '/', query,
    names.map((h) => h + ':' + String(req.headers[h] || '').trim()).join('\n') + '\n',
    m[2], req.headers['x-acs-content-sha256']].join('\n');
  const sts = 'ACS3-HMAC-SHA256\n' + sha256(canonical);
  const want = crypto.createHmac('sha256', o.secret).update(sts).digest('hex');
  return want === m[3] ? '' : 'SignatureDoesNotMatch';
}

const faults = {
  1001: [200, 'isv.BUSINESS_LIMIT_CONTROL', '触发号码天级流控Permits:10'],
  1002: [400, 'Throttling.User', 'Request was denied due to user flow control.'],
  1003: [200, 'isv.MOBILE_NUMBER_ILLEGAL', '非法手机号'],
  1004: [200, 'isv.MOBILE_COUNT_OVER_LIMIT', '手机号码数量超过限制'],
  1005: [200, 'isv.AMOUNT_NOT_ENOUGH', '账户余额不足'],
  1006: [200, 'isv.SMS_TEMPLATE_ILLEGAL', '该账号下找不到对应模板'],
  1007: [200, 'isv.SMS_SIGNATURE_ILLEGAL', '该账号下找不到对应签名'],
  '0500': [500, 'InternalError', 'The request processing has failed due to some unknown error.'],
  '0503': [503, 'ServiceUnavailable', 'The request has failed due to a temporary failure of the server.'],
};

const server = http.createServer((req, res) => {
  readBody(req, (body) => {
    const url = new URL(req.url, 'http://mock');
    const q = Object.fromEntries(url.searchParams);
    log({ method: req.method, path: url.pathname, headers: req.headers, query: q, body });
    if (req.method !== 'POST' || url.pathname !== '/') return reply(res, 404, { Code: 'InvalidAction.NotFound' });
    const bad = badSignature(req, url, body);
    if (bad) return reply(res, bad.startsWith('InvalidAccessKeyId') ? 404 : 400, { Code: bad, Message: 'Specified signature does not match our calculation.' });
    if (req.headers['x-acs-action'] !== 'SendSms' || req.headers['x-acs-version'] !== '2017-05-25')
      return reply(res, 400, { Code: 'InvalidAction.NotFound' });
    const age = Math.abs(Date.now() - Date.parse(req.headers['x-acs-date'] || ''));
    if (!(age < 15 * 60 * 1000)) return reply(res, 400, { Code: 'InvalidTimeStamp.Expired' });
    const nonce = req.headers['x-acs-signature-nonce'];
    if (!nonce || nonces.has(nonce)) return reply(res, 400, { Code: 'SignatureNonceUsed' });
    nonces.add(nonce);
    if (!q.PhoneNumbers || !q.SignName || !q.TemplateCode)
      return reply(res, 400, { Code: 'MissingParameter', Message: 'PhoneNumbers, SignName and TemplateCode are required' });
    if (q.TemplateParam !== undefined) {
      let p = null;
      try { p = JSON.parse(q.TemplateParam); } catch (e) { p = null; }
      if (!p || typeof p !== 'object' || Array.isArray(p))
        return reply(res, 200, { Code: 'isv.INVALID_JSON_PARAM', Message: 'JSON参数不合法，只接受字符串值' });
    }
    const to = q.PhoneNumbers;
    const dropped = answer(res, to);
    const random = fault();
    if (random === 'drop') { dropped(0); return transportFault('drop', res, req.socket); }
    if (random === '503') return reply(res, 503, { Code: 'ServiceUnavailable' });
    if (random === '429') return reply(res, 400, { Code: 'Throttling.User', Message: 'flow control' });
    const word = to.endsWith('0999') ? 'slow' : to.endsWith('0000') ? 'drop' : '';
    if (transportFault(word, res, req.socket)) return;
    const f = faults[to.slice(-4)];
    if (f) return reply(res, f[0], { Code: f[1], Message: f[2] });
    const biz = '900619746936' + String(498440 + ++n) + '^0'; // past 2^53: digits as text
    reply(res, 200, { Code: 'OK', Message: 'OK', BizId: biz });
    const [success, code, text] = outcomes[to.slice(-4)] || [true, 'DELIVERED', '用户接收成功'];
    report({ phone_number: to.replace(/^\+86/, ''), send_time: cst(), report_time: cst(), success,
      err_code: code, err_msg: text, sms_size: '1', biz_id: biz, out_id: q.OutId || '' });
  });
});
ready(server, o.port);
