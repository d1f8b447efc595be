// A mock of Tencent Cloud's SMS API 3.0 SendSms (2021-01-11): a JSON POST
// to / signed with TC3-HMAC-SHA256, verified here with node:crypto,
// independently of herald's signer: the canonical request over the signed
// headers as sent and the body's SHA-256, the key derived from "TC3" +
// --secret through the UTC date of X-TC-Timestamp, the service (sms) and
// "tc3_request"; also the SecretId (--id), X-TC-Action and -Version, a
// timestamp within 5 minutes and the SdkAppId (--app). Answers as Tencent
// does, HTTP 200 with a Response: an Error, or a SendStatusSet entry per
// number. Requests logged with --log, answers with --answers (common.js).
// Faults by the number's last digits:
//   ...1001 LimitExceeded.PhoneNumberDailyLimit    ...1002 RequestLimitExceeded (Error)
//   ...1008 LimitExceeded.AppDailyLimit
//   ...1003 InvalidParameterValue.IncorrectPhoneNumber
//   ...1004 FailedOperation.PhoneNumberInBlacklist
//   ...1005 FailedOperation.InsufficientBalanceInSmsPackage
//   ...1006 FailedOperation.TemplateIncorrectOrUnapproved (Error)
//   ...0500 InternalError.Timeout (Error), ...0503 HTTP 503
//   ...0999 slow; ...0000 drop the connection
// With --report URL, each accepted message's status is called back there
// (common.js reporter): SUCCESS, except ...2001 (FAIL MN:0001, no such
// number) and ...2002 (FAIL EXPIRED); SessionContext comes back as ext.
'use strict';
const http = require('http');
const crypto = require('crypto');
const { options, logger, ready, readBody, transportFault, randomFaults, answers, reporter } = require('./common');

const o = options(process.argv);
const log = logger(o.log);
const fault = randomFaults(o);
const answer = answers(o.answers);
let n = 0;
const report = reporter(o.report, log);
const outcomes = {
  2001: ['FAIL', 'MN:0001', '空号'],
  2002: ['FAIL', 'EXPIRED', '短信过期'],
};
const cst = () => new Date(Date.now() + 8 * 3600 * 1000).toISOString().slice(0, 19).replace('T', ' ');

const sha256 = (s) => crypto.createHash('sha256').update(s, 'utf8').digest('hex');
const hmac = (k, s) => crypto.createHmac('sha256', k).update(s, 'utf8').digest();

function reply(res, status, response) {
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify({ Response: Object.assign(response, { RequestId: crypto.randomUUID() }) }));
}
const error = (res, code, message) => reply(res, 200, { Error: { Code: code, Message: message || code } });

function badSignature(req, body) {
  const m = /^TC3-HMAC-SHA256 Credential=([^/]+)\/(\d{4}-\d\d-\d\d)\/sms\/tc3_request, SignedHeaders=([^,]+), Signature=([0-9a-f]{64})$/
    .exec(req.headers.authorization || '');
  if (!m) return 'AuthFailure.InvalidAuthorization';
  if (m[1] !== o.id) return 'AuthFailure.SecretIdNotFound';
  const ts = Number(req.headers['x-tc-timestamp']);
  if (!(Math.abs(Date.now() / 1000 - ts) < 300)) return 'AuthFailure.SignatureExpire';
  const date = new Date(ts * 1000).toISOString().slice(0, 10);
  if (date !== m[2]) return 'AuthFailure.SignatureFailure';
  const names = m[3].split(';');
  if (!names.includes('content-type') || !names.includes('host')) return 'AuthFailure.SignatureFailure';
  const canonical = ['POST', '/', '',
    names.map((h) => h + ':' + String(req.headers[h] || '').trim().toLowerCase()).join('\n') + '\n',
    m[3], sha256(body)].join('\n');
  const sts = ['TC3-HMAC-SHA256', String(ts), m[2] + '/sms/tc3_request', sha256(canonical)].join('\n');
  const key = hmac(hmac(hmac('TC3' + o.secret, m[2]), 'sms'), 'tc3_request');
  return hmac(key, sts).toString('hex') === m[4] ? '' : 'AuthFailure.SignatureFailure';
}

const statuses = {
  1001: ['LimitExceeded.PhoneNumberDailyLimit', '单个手机号日下发条数超过设定的上限'],
  1003: ['InvalidParameterValue.IncorrectPhoneNumber', '手机号格式错误'],
  1004: ['FailedOperation.PhoneNumberInBlacklist', '手机号在免打扰名单库中'],
  1005: ['FailedOperation.InsufficientBalanceInSmsPackage', '套餐包余量不足'],
  1008: ['LimitExceeded.AppDailyLimit', '业务短信日下发条数超过设定的上限'],
};
const errors = {
  1002: 'RequestLimitExceeded',
  1006: 'FailedOperation.TemplateIncorrectOrUnapproved',
  '0500': 'InternalError.Timeout',
};

const server = http.createServer((req, res) => {
  readBody(req, (body) => {
    let j = null;
    try { j = JSON.parse(body); } catch (e) { j = null; }
    log({ method: req.method, path: req.url, headers: req.headers, json: j, body });
    if (req.method !== 'POST' || req.url !== '/') return error(res, 'UnsupportedOperation');
    const bad = badSignature(req, body);
    if (bad) return error(res, bad, 'The provided credentials could not be validated.');
    if (req.headers['x-tc-action'] !== 'SendSms' || req.headers['x-tc-version'] !== '2021-01-11' ||
        !req.headers['x-tc-region']) return error(res, 'InvalidAction');
    if (!j || !Array.isArray(j.PhoneNumberSet) || j.SmsSdkAppId !== o.app || !j.SignName || !j.TemplateId)
      return error(res, 'MissingParameter');
    if (j.TemplateParamSet !== undefined &&
        !(Array.isArray(j.TemplateParamSet) && j.TemplateParamSet.every((s) => typeof s === 'string')))
      return error(res, 'InvalidParameterValue.TemplateParameterFormatError');
    const to = j.PhoneNumberSet[0];
    const dropped = answer(res, to);
    const random = fault();
    if (random === 'drop') { dropped(0); return transportFault('drop', res, req.socket); }
    if (random === '503') { res.writeHead(503); return res.end(); }
    if (random === '429') return error(res, 'RequestLimitExceeded');
    const word = to.endsWith('0999') ? 'slow' : to.endsWith('0000') ? 'drop' : '';
    if (transportFault(word, res, req.socket)) return;
    if (to.endsWith('0503')) { res.writeHead(503); return res.end(); }
    const k = to.slice(-4);
    if (errors[k]) return error(res, errors[k]);
    const [code, message] = statuses[k] || ['Ok', 'send success'];
    const serial = '2433:' + (1e10 + ++n);
    reply(res, 200, { SendStatusSet: [{ SerialNo: serial, PhoneNumber: to, Fee: 1,
      SessionContext: j.SessionContext || '', Code: code, Message: message, IsoCode: 'CN' }] });
    if (code !== 'Ok') return;
    const [status, errmsg, description] = outcomes[k] || ['SUCCESS', 'DELIVRD', '用户短信送达成功'];
    report({ user_receive_time: cst(), nationcode: '86', mobile: to.replace(/^\+86/, ''),
      report_status: status, errmsg, description, sid: serial, ext: j.SessionContext || '' });
  });
});
ready(server, o.port);
