// A mock of Twilio's Messages API: POST /2010-04-01/Accounts/{sid}/Messages.json
// with HTTP Basic auth (--sid and --token) and a form body, answering as
// Twilio does (201 and a message resource, or an error object): an empty
// Body is 21602, one over 1,600 characters 21617.
// Random faults with --faults and --seed, answers logged with --answers
// (common.js). Faults by the To number's last digits:
//   ...0429  429 with Retry-After: 7 and code 20429
//   ...20429 400 with code 20429 (too many requests, by code only)
//   ...21211 400 code 21211 (invalid To)
//   ...21610 400 code 21610 (the recipient replied STOP)
//   ...0500  500, ...0503 503 with Retry-After: 2
//   ...0999  slow; ...0000 drop the connection
'use strict';
const http = require('http');
const crypto = require('crypto');
const { options, logger, ready, readBody, transportFault, randomFaults, answers } = require('./common');

const o = options(process.argv);
const log = logger(o.log);
const fault = randomFaults(o);
const answer = answers(o.answers);
const sent = new Map(); // sends per To number

function error(res, status, code, message, headers) {
  res.writeHead(status, Object.assign({ 'Content-Type': 'application/json' }, headers || {}));
  res.end(JSON.stringify({ code, message, more_info: 'https://www.twilio.com/docs/errors/' + code,
                           status }));
}

const server = http.createServer((req, res) => {
  readBody(req, (body) => {
    const form = Object.fromEntries(new URLSearchParams(body));
    const auth = req.headers.authorization || '';
    log({ method: req.method, path: req.url, headers: req.headers, body, form });
    const path = '/2010-04-01/Accounts/' + o.sid + '/Messages.json';
    if (req.method !== 'POST' || req.url !== path) return error(res, 404, 20404, 'not found');
    const want = 'Basic ' + Buffer.from(o.sid + ':' + o.token).toString('base64');
    if (auth !== want) return error(res, 401, 20003, 'Authenticate');
    if (!form.To || !(form.From || form.MessagingServiceSid) || form.Body === undefined)
      return error(res, 400, 21604, "A 'To', 'From' and 'Body' are required");
    if (form.Body === '') return error(res, 400, 21602, 'Message body is required.');
    if ([...form.Body].length > 1600)
      return error(res, 400, 21617, 'The concatenated message body exceeds the 1600 character limit.');
    const to = form.To;
    const dropped = answer(res, to);
    const random = fault();
    if (random === 'drop') { dropped(0); return transportFault('drop', res, req.socket); }
    if (random === '503') return error(res, 503, 20503, 'Service Unavailable');
    if (random === '429') return error(res, 429, 20429, 'Too Many Requests', { 'Retry-After': '1' });
    const word = to.endsWith('0999') ? 'slow' : to.endsWith('0000') ? 'drop' : '';
    if (transportFault(word, res, req.socket)) return;
    if (to.endsWith('20429')) return error(res, 400, 20429, 'Too Many Requests');
    if (to.endsWith('0429')) return error(res, 429, 20429, 'Too Many Requests', { 'Retry-After': '7' });
    if (to.endsWith('21211')) return error(res, 400, 21211, "The 'To' number " + to + ' is not a valid phone number.');
    if (to.endsWith('21610')) return error(res, 400, 21610, 'Attempt to send to unsubscribed recipient');
    if (to.endsWith('0500')) return error(res, 500, 20500, 'Internal Server Error');
    if (to.endsWith('0503')) return error(res, 503, 20503, 'Service Unavailable', { 'Retry-After': '2' });
    const segments = Math.max(1, Math.ceil(Buffer.byteLength(form.Body) / 153));
    // the k-th message to a number gets SM + md5(To + '#' + k): a test can
    // name a message's sid before it is sent (test_receipts)
    const k = (sent.get(to) || 0) + 1;
    sent.set(to, k);
    const sid = 'SM' + crypto.createHash('md5').update(to + '#' + k).digest('hex');
    res.writeHead(201, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ sid, account_sid: o.sid, to, from: form.From || null,
      messaging_service_sid: form.MessagingServiceSid || null, body: form.Body, status: 'queued',
      num_segments: String(segments), error_code: null, error_message: null }));
  });
});
ready(server, o.port);
