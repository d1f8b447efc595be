// check.js: the OpenAPI document's own check (swagger-parser validates it
// against the OpenAPI 3.1 schema and resolves every $ref), then, given a
// file of the answers a test received (JSON Lines of {method, path,
// status, type, body}), each answer's body validated against the schema the
// document gives for its operation, status (or default) and content type,
// with Ajv's JSON Schema 2020-12 (OpenAPI 3.1's dialect). It knows nothing
// of herald: tests/test_api.c runs it.
//   node check.js DOC [ANSWERS]   exit 0 when all is well, 1 with the faults
'use strict';
const SwaggerParser = require('@apidevtools/swagger-parser');
const Ajv2020 = require('ajv/dist/2020');
const fs = require('fs');

function operation(doc, method, path) {
  for (const [tpl, item] of Object.entries(doc.paths)) {
    const re = new RegExp('^' + tpl.replace(/[.]/g, '\\.').replace(/\{[^}]+\}/g, '[^/]+') + '$');
    if (re.test(path)) {
      const m = method === 'HEAD' ? 'get' : method.toLowerCase();
      return { tpl, op: item[m] };
    }
  }
  return { tpl: null, op: null };
}

async function main() {
  const [docPath, answers] = process.argv.slice(2);
  await SwaggerParser.validate(docPath);
  const doc = await SwaggerParser.dereference(docPath);
  if (!doc.openapi.startsWith('3.1')) throw new Error('not OpenAPI 3.1: ' + doc.openapi);
  if (!answers) {
    console.log('ok: ' + Object.keys(doc.paths).length + ' paths');
    return 0;
  }
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  const faults = [];
  let n = 0;
  for (const line of fs.readFileSync(answers, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    const a = JSON.parse(line);
    const where = `${a.method} ${a.path} ${a.status}`;
    const { tpl, op } = operation(doc, a.method, a.path);
    if (!op) {
      // an unknown path or method: the answer is a problem all the same
      if (a.status !== 404 && a.status !== 405) faults.push(`${where}: not in the document`);
      if (!ajv.validate(doc.components.schemas.Problem, JSON.parse(a.body)))
        faults.push(`${where}: ${ajv.errorsText()}`);
      n++;
      continue;
    }
    const r = op.responses[String(a.status)] || op.responses.default;
    if (!r) { faults.push(`${where}: status not in the document for ${tpl}`); continue; }
    const type = (a.type || '').split(';')[0].trim();
    const media = r.content && r.content[type];
    if (!media) { faults.push(`${where}: content type '${type}' not in the document`); continue; }
    if (!ajv.validate(media.schema, JSON.parse(a.body)))
      faults.push(`${where}: ${ajv.errorsText()}\n  ${a.body.slice(0, 300)}`);
    n++;
  }
  if (faults.length) {
    console.log(faults.join('\n'));
    return 1;
  }
  console.log(`ok: ${n} answers valid`);
  return 0;
}

main().then((rc) => process.exit(rc), (e) => { console.log(String(e.message || e)); process.exit(1); });
