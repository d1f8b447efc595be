// drive.js: plays scenarios in Debian's headless Chromium for
// tests/test_browser.c. The test decides what to do; this script only knows
// how to do one step of each kind. A scenario is a list of steps read from a
// JSON file (argv[2]), each step one action key:
//
//   {"base": "http://127.0.0.1:PORT", "out": "DIR", "viewport": {"width": 800, "height": 500},
//    "timeout_ms": 20000, "step_timeout_ms": 5000, "chromium": "/usr/bin/chromium",
//    "scenarios": [{"name": "en", "locale": "en-US", "steps": [
//      {"goto": "/u/TOKEN", "status": 200}, {"text": "Unsubscribe"}, {"screenshot": "a.png"},
//      {"click": "button[type=submit]", "status": 200}, {"no_text": "..."}]}]}
//
// Actions: goto (a URL, relative to base; "status" checks the answer), text
// and no_text (in the page's visible text), lang (the <html lang>), count (a
// CSS selector, "is" the number of matches), click (with "status", waits for
// the navigation it starts and checks its answer), fill and select (with
// "value"), check, uncheck, and screenshot (a file name in out; "clip" {x, y,
// width, height} takes a part of the viewport), scroll (a CSS selector: its
// first match is brought to the top of the viewport, for a screenshot of
// what lies below the fold), axe (npm axe-core, pinned in package-lock.json,
// run on the page: {"axe": "NAME"} fails on any finding of impact serious or
// critical, or of the impacts its "impacts" list names, and writes every
// finding to out/axe-NAME.json), and, for the console's templates and
// segments (test_browser_tpl.c): type (a selector and "value", typed key by
// key as a person does, after clearing the field), wait_text (a selector
// whose text must come to equal "value", trimmed: polled until
// step_timeout_ms, for what a page's script updates), and frame_text
// ("FRAME|INNER": the text of the INNER selector inside the FRAME selector's
// iframe, sandboxed or not, must come to equal "value"); and, for pages
// that must fit a window: viewport ("WIDTHxHEIGHT": the window resized, the
// page kept, as a phone turned) and no_overflow ("page": the page has no
// sideways scrolling, document.documentElement's scrollWidth within its
// clientWidth; "all": neither has any box in it that scrolls sideways, such
// as a wide table's wrapper; a failure names what sticks out). A step has
// step_timeout_ms, the whole plan timeout_ms. A scenario fails on its first
// failing step, on any console error or uncaught exception in its pages (a
// Content-Security-Policy violation is one; "console_errors_ok" allows
// them), and on any request answered 404 but a navigation whose status a
// step expected: the browser's own request for /favicon.ico too, which
// playwright hides from its events and a CDP session sees.
// Each scenario gets a fresh browser context (no cookies, its own locale).
// Prints "screenshot PATH" and "ok NAME (MS ms)" lines; on failure "FAIL NAME step N
// (ACTION): REASON" on stderr, a NAME-failure.png screenshot, exit 1. A bad
// plan exits 2, the overall timeout 3. playwright-core drives the system's
// Chromium and downloads no browser.
//
// With "-" for the plan (`node drive.js -`) it serves one plan after another
// with the one browser it launches for the first: it reads a plan file's path
// a line from stdin, plays it as above with everything written to stdout, and
// ends each plan with a line "plan ok", "plan failed" or "plan bad: REASON";
// stdin's end closes the browser and exits 0. A plan's timeout_ms bounds that
// plan; when it runs out the browser is closed and the script exits 3. The
// browser tests play all their plans, on each store engine, through one such
// session (tests/testbrowser.h): a Chromium launch costs seconds.
'use strict';

const fs = require('fs');
const path = require('path');
const { chromium } = require('playwright-core');

const ACTIONS = ['goto', 'text', 'no_text', 'lang', 'count', 'click', 'fill', 'check', 'uncheck',
                 'select', 'screenshot', 'scroll', 'type', 'wait_text', 'frame_text', 'axe',
                 'viewport', 'no_overflow'];

// A failure: on stderr, or on stdout with the rest when serving plans.
function report(msg) {
  if (process.argv[2] === '-')
    console.log(msg);
  else
    process.stderr.write(msg + '\n');
}

function die(code, msg) {
  process.stderr.write(msg + '\n');
  process.exit(code);
}

function actionOf(step) {
  const keys = Object.keys(step).filter((k) => ACTIONS.includes(k));
  if (keys.length !== 1)
    throw new Error(`a step needs exactly one of ${ACTIONS.join(', ')}: ${JSON.stringify(step)}`);
  return keys[0];
}

function validate(plan) {
  if (!plan || !Array.isArray(plan.scenarios) || typeof plan.out !== 'string')
    throw new Error('the plan needs "out" and a "scenarios" list');
  for (const s of plan.scenarios) {
    if (typeof s.name !== 'string' || !Array.isArray(s.steps))
      throw new Error(`a scenario needs "name" and "steps": ${JSON.stringify(s).slice(0, 200)}`);
    s.steps.forEach(actionOf);
  }
}

// A page answered with the error status a step expects is no error: its URL
// goes into expected, and Chromium's "Failed to load resource" message for
// it is not counted at the end of the scenario.
function expectStatus(step, resp, expected) {
  if (step.status === undefined)
    return;
  const got = resp ? resp.status() : 'no response';
  if (resp)
    expected.add(resp.url());
  if (got !== step.status)
    throw new Error(`HTTP status ${got}, expected ${step.status}`);
}

// A console error that is no fault of the page: the failed load of a page
// whose status a step expected.
function excused(e, expected) {
  return e.text.startsWith('Failed to load resource') && expected.has(e.url);
}

// The answer to the navigation the click starts (a form's POST).
async function clickAndWait(page, step, expected) {
  if (step.status === undefined) {
    await page.click(step.click);
    return;
  }
  const nav = page.waitForEvent('response',
      (r) => r.request().isNavigationRequest() && r.frame() === page.mainFrame());
  nav.catch(() => {}); // a failed click is the error to report, not this
  await page.click(step.click);
  const resp = await nav;
  await page.waitForLoadState('load');
  expectStatus(step, resp, expected);
}

// Polls get() until its text, trimmed, is want, within the step's timeout.
async function waitForText(page, what, want, get) {
  const until = Date.now() + (page.stepTimeout || 5000);
  let got = null;
  for (;;) {
    got = await get().catch((e) => `(${e.message.split('\n')[0]})`);
    if (got !== null && got.trim() === want)
      return;
    if (Date.now() >= until)
      throw new Error(`${what} reads ${JSON.stringify(got)}, not ${JSON.stringify(want)}`);
    await page.waitForTimeout(50);
  }
}

async function typeInto(page, step) {
  const field = page.locator(step.type);
  await field.fill('');
  await field.pressSequentially(step.value, { delay: 15 });
}

async function waitText(page, step) {
  const el = page.locator(step.wait_text);
  await waitForText(page, step.wait_text, step.value, () => el.innerText({ timeout: 1000 }));
}

async function frameText(page, step) {
  const [frame, inner] = step.frame_text.split('|');
  if (!inner)
    throw new Error(`frame_text takes "FRAME|INNER": ${step.frame_text}`);
  const el = page.frameLocator(frame).locator(inner);
  await waitForText(page, step.frame_text, step.value, () => el.innerText({ timeout: 1000 }));
}

async function scrollTo(page, step) {
  await page.locator(step.scroll).first().evaluate((el) => el.scrollIntoView({ block: 'start' }));
}

// axe-core's source, read once. Given to the page through the DevTools
// protocol (page.evaluate), which the page's Content-Security-Policy (no
// inline script) does not govern: the page itself stays as served.
let axeSource = null;

async function axeCheck(plan, page, step) {
  if (!axeSource)
    axeSource = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
  if (!(await page.evaluate(() => typeof window.axe === 'object')))
    await page.evaluate(axeSource);
  const result = await page.evaluate(() => window.axe.run(document, {
    resultTypes: ['violations'],
  }));
  const impacts = step.impacts || ['serious', 'critical'];
  const found = result.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.map((n) => ({ target: n.target, summary: n.failureSummary })),
  }));
  const file = path.join(plan.out, `axe-${step.axe}.json`);
  fs.writeFileSync(file, JSON.stringify({ url: page.url(), violations: found }, null, 1));
  console.log(`axe ${step.axe}: ${found.length} findings (${file})`);
  const bad = found.filter((v) => impacts.includes(v.impact));
  if (bad.length)
    throw new Error(`axe: ${bad.map((v) => `${v.impact} ${v.id} (${v.help}) at ` +
                                    v.nodes.map((n) => n.target.join(' ')).join(', '))
                               .join('; ')}`);
}

// Resizes the window ("375x740"); the page stays, its layout follows.
async function setViewport(page, step) {
  const m = /^(\d+)x(\d+)$/.exec(step.viewport);
  if (!m)
    throw new Error(`viewport takes WIDTHxHEIGHT: ${step.viewport}`);
  await page.setViewportSize({ width: Number(m[1]), height: Number(m[2]) });
}

// Fails when the page scrolls sideways ("page"), or also any box in it
// ("all"), naming each with its widths and what makes it wide: the
// outermost of its descendants that stick out past its right edge, else
// (a word too long for its line, which no element's box shows) the
// innermost whose text overflows them; a box that scrolls in it hides
// what is inside it.
async function noOverflow(page, step) {
  if (step.no_overflow !== 'page' && step.no_overflow !== 'all')
    throw new Error(`no_overflow takes "page" or "all": ${step.no_overflow}`);
  const bad = await page.evaluate((all) => {
    const name = (el) => el.tagName.toLowerCase() + (el.id ? `#${el.id}` : '') +
        (typeof el.className === 'string' && el.className.trim()
           ? `.${el.className.trim().split(/\s+/).join('.')}` : '');
    const root = document.documentElement;
    const boxes = [root];
    if (all)
      for (const el of document.body.querySelectorAll('*')) {
        const o = getComputedStyle(el).overflowX;
        if (o === 'auto' || o === 'scroll')
          boxes.push(el);
      }
    const found = [];
    for (const box of boxes) {
      if (box.scrollWidth <= box.clientWidth)
        continue;
      const edge = box === root ? root.clientWidth
                                : box.getBoundingClientRect().left + box.clientLeft + box.clientWidth;
      const shown = (el) => { /* not inside another box that scrolls or clips */
        for (let a = el.parentElement; a && a !== box; a = a.parentElement)
          if (getComputedStyle(a).overflowX !== 'visible')
            return false;
        return true;
      };
      const all = [...box.querySelectorAll('*')].filter(shown);
      const out = (el) => el && all.includes(el) && el.getBoundingClientRect().right > edge + 0.5;
      let past = all.filter((el) => out(el) && !out(el.parentElement))
                     .map((el) => `${name(el)} (to ${Math.round(el.getBoundingClientRect().right)} px)`);
      if (!past.length) {
        const full = all.filter((el) => el.clientWidth > 0 && el.scrollWidth > el.clientWidth &&
                                        getComputedStyle(el).overflowX === 'visible');
        past = full.filter((el) => !full.some((d) => d !== el && el.contains(d)))
                   .map((el) => `${name(el)} (its text ${el.scrollWidth} px in ${el.clientWidth})`);
      }
      found.push(`${box === root ? 'the page' : name(box)} is ${box.scrollWidth} px wide in ` +
                 `${box.clientWidth}${past.length ? `: ${past.slice(0, 3).join(', ')}` : ''}`);
    }
    return found;
  }, step.no_overflow === 'all');
  if (bad.length)
    throw new Error(`scrolls sideways at ${page.viewportSize().width} px: ${bad.join('; ')}`);
}

async function visibleText(page) {
  return page.innerText('body');
}

async function runStep(plan, page, step, expected) {
  switch (actionOf(step)) {
  case 'goto':
    expectStatus(step, await page.goto(new URL(step.goto, plan.base).href), expected);
    break;
  case 'text': {
    const t = await visibleText(page);
    if (!t.includes(step.text))
      throw new Error(`"${step.text}" is not in the page: ${JSON.stringify(t)}`);
    break;
  }
  case 'no_text': {
    const t = await visibleText(page);
    if (t.includes(step.no_text))
      throw new Error(`"${step.no_text}" is in the page: ${JSON.stringify(t)}`);
    break;
  }
  case 'lang': {
    const l = await page.getAttribute('html', 'lang');
    if (l !== step.lang)
      throw new Error(`<html lang="${l}">, expected "${step.lang}"`);
    break;
  }
  case 'count': {
    const n = await page.locator(step.count).count();
    if (n !== step.is)
      throw new Error(`${n} elements match "${step.count}", expected ${step.is}`);
    break;
  }
  case 'click':
    await clickAndWait(page, step, expected);
    break;
  case 'fill':
    await page.fill(step.fill, step.value);
    break;
  case 'check':
    await page.check(step.check);
    break;
  case 'uncheck':
    await page.uncheck(step.uncheck);
    break;
  case 'select':
    await page.selectOption(step.select, step.value);
    break;
  case 'type':
    await typeInto(page, step);
    break;
  case 'wait_text':
    await waitText(page, step);
    break;
  case 'frame_text':
    await frameText(page, step);
    break;
  case 'scroll':
    await scrollTo(page, step);
    break;
  case 'screenshot': {
    const p = path.join(plan.out, step.screenshot);
    await page.screenshot({ path: p, clip: step.clip });
    console.log(`screenshot ${p}`);
    break;
  }
  case 'axe':
    await axeCheck(plan, page, step);
    break;
  case 'viewport':
    await setViewport(page, step);
    break;
  case 'no_overflow':
    await noOverflow(page, step);
    break;
  }
}

async function runScenario(browser, plan, s) {
  const context = await browser.newContext({
    viewport: plan.viewport || { width: 800, height: 500 },
    locale: s.locale || 'en-US',
    deviceScaleFactor: 1,
  });
  const page = await context.newPage();
  const t0 = Date.now();
  page.setDefaultTimeout(plan.step_timeout_ms || 5000);
  page.stepTimeout = plan.step_timeout_ms || 5000;
  const errors = [], expected = new Set();
  page.on('console', (m) => {
    if (m.type() === 'error')
      errors.push({ text: m.text(), url: m.location().url });
  });
  page.on('pageerror', (e) => errors.push({ text: String(e) }));
  // every answer of 404 to the page, /favicon.ico's too, which playwright's
  // own events leave out (it comes after the load: a scenario that ends
  // at once may end before it)
  const missing = [];
  const cdp = await context.newCDPSession(page);
  cdp.on('Network.responseReceived', (e) => {
    if (e.response.status === 404)
      missing.push(e.response.url);
  });
  await cdp.send('Network.enable');
  try {
    for (let i = 0; i < s.steps.length; i++) {
      try {
        await runStep(plan, page, s.steps[i], expected);
      } catch (e) {
        const shot = path.join(plan.out, `${s.name}-failure.png`);
        await page.screenshot({ path: shot }).catch(() => {});
        const seen = errors.filter((x) => !excused(x, expected))
                         .map((x) => `\n  in the page: ${x.text}`)
                         .join('');
        report(`FAIL ${s.name} step ${i + 1} (${actionOf(s.steps[i])}): ` +
               `${e.message.split('\n')[0]}${seen}\nscreenshot ${shot}`);
        return false;
      }
    }
    const lost = missing.filter((u) => !expected.has(u));
    if (lost.length) {
      report(`FAIL ${s.name}: answered 404: ${[...new Set(lost)].join(' | ')}`);
      return false;
    }
    const bad = errors.filter((e) => !excused(e, expected));
    if (bad.length && !s.console_errors_ok) {
      const list = bad.map((e) => `${e.text} (${e.url})`).join(' | ');
      report(`FAIL ${s.name}: errors in the page: ${list}`);
      return false;
    }
    console.log(`ok ${s.name} (${Date.now() - t0} ms)`);
    return true;
  } finally {
    await context.close();
  }
}

function readPlan(file) {
  const plan = JSON.parse(fs.readFileSync(file, 'utf8'));
  validate(plan);
  fs.mkdirSync(plan.out, { recursive: true });
  return plan;
}

// The browser, launched for the first plan with its settings.
let browser = null;

function launch(plan) {
  if (!browser)
    browser = chromium.launch({
      executablePath: plan.chromium || '/usr/bin/chromium',
      headless: true,
      timeout: plan.timeout_ms || 20000,
    });
  return browser;
}

// Plays the plan's scenarios; true when all passed. Bounded: a hung page
// never hangs the test, and the browser always goes.
async function play(plan) {
  const b = await launch(plan);
  const timer = setTimeout(() => {
    report('drive.js: timed out');
    b.close().finally(() => process.exit(3));
  }, plan.timeout_ms || 20000);
  let ok = true;
  try {
    for (const s of plan.scenarios)
      if (!(await runScenario(b, plan, s)))
        ok = false;
  } finally {
    clearTimeout(timer);
  }
  return ok;
}

async function closeBrowser() {
  if (browser)
    await (await browser).close();
}

async function serve() {
  const rl = require('readline').createInterface({ input: process.stdin });
  for await (const line of rl) {
    if (!line.trim())
      continue;
    let plan;
    try {
      plan = readPlan(line.trim());
    } catch (e) {
      console.log(`plan bad: ${line.trim()}: ${e.message}`);
      continue;
    }
    console.log((await play(plan)) ? 'plan ok' : 'plan failed');
  }
  await closeBrowser();
  process.exit(0);
}

async function main() {
  if (process.argv[2] === '-')
    return serve();
  let plan;
  try {
    plan = readPlan(process.argv[2]);
  } catch (e) {
    die(2, `drive.js: ${process.argv[2] || '(no file)'}: ${e.message}`);
  }
  let ok = false;
  try {
    ok = await play(plan);
  } finally {
    await closeBrowser();
  }
  process.exit(ok ? 0 : 1);
}

main().catch((e) => die(1, `drive.js: ${e.message}`));
