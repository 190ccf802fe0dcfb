// node --test test/   What the recorder keeps of JavaScript errors and page timing.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_DENYLIST } from '../src/recorder/config.js';
import {
  ErrorBudget, MAX_ERRORS_PER_PAGE, MAX_MESSAGE, MAX_REPEATS, describeValue, fromConsoleArgs, fromErrorEvent,
  fromRejection, navigationFigures,
} from '../src/recorder/errors.js';
import { stripTextUrls } from '../src/recorder/urls.js';

test('console.error keeps primitives and errors, and names objects by type only', () => {
  const err = new TypeError('x is undefined');
  const payload = fromConsoleArgs(['Checkout failed', 42, { card: '4111 1111 1111 1111', email: 'a@b.example' }, [1, 2], err]);
  assert.equal(payload.kind, 'console');
  assert.equal(payload.message, 'Checkout failed 42 [Object] [Array(2)] TypeError: x is undefined');
  assert.ok(payload.stack.includes('x is undefined'));
  assert.ok(!JSON.stringify(payload).includes('4111'));
  assert.ok(!JSON.stringify(payload).includes('a@b.example'));
  class Order {}
  assert.equal(describeValue(new Order()), '[Order]');
  assert.equal(describeValue(null), 'null');
  assert.equal(describeValue(undefined), 'undefined');
  assert.equal(describeValue(() => 1), '[Function]');
  assert.equal(describeValue({ nodeName: 'INPUT', value: 'secret' }), '<input>');
});

test('an object whose constructor getter throws is still described', () => {
  const hostile = Object.create(null);
  Object.defineProperty(hostile, 'constructor', { get() { throw new Error('no'); } });
  assert.equal(describeValue(hostile), '[Object]');
});

test('uncaught errors carry message, stack and source; rejections their reason', () => {
  const error = new RangeError('bad index');
  const payload = fromErrorEvent({ error, message: 'Uncaught RangeError: bad index', filename: 'https://shop.example/app.js', lineno: 12, colno: 5 });
  assert.equal(payload.kind, 'error');
  assert.equal(payload.message, 'RangeError: bad index');
  assert.equal(payload.source, 'https://shop.example/app.js:12:5');
  assert.ok(payload.stack.length > 0);
  // A cross-origin script error has no error object.
  const opaque = fromErrorEvent({ error: null, message: 'Script error.', filename: '', lineno: 0, colno: 0 });
  assert.deepEqual(opaque, { kind: 'error', message: 'Script error.', stack: '', source: '' });
  assert.equal(fromRejection({ reason: new Error('fetch failed') }).message, 'Error: fetch failed');
  assert.equal(fromRejection({ reason: 'timeout' }).message, 'Unhandled rejection: timeout');
  assert.equal(fromRejection({ reason: { status: 500 } }).message, 'Unhandled rejection: [Object]');
});

test('messages and stacks are cut to their limits', () => {
  const payload = fromConsoleArgs(['x'.repeat(MAX_MESSAGE * 3)]);
  assert.equal(payload.message.length, MAX_MESSAGE);
  assert.ok(payload.message.endsWith('…'));
  assert.equal(fromConsoleArgs([]).message, 'Error');
});

test('the budget passes the same message a few times and all errors up to the cap', () => {
  const budget = new ErrorBudget();
  const same = { kind: 'console', message: 'again' };
  let passed = 0;
  for (let i = 0; i < 20; i++) if (budget.allow(same)) passed++;
  assert.equal(passed, MAX_REPEATS);
  let others = 0;
  for (let i = 0; i < 200; i++) if (budget.allow({ kind: 'error', message: 'e' + i })) others++;
  assert.equal(passed + others, MAX_ERRORS_PER_PAGE);
});

test('navigation timing from the entry (times from 0) and from performance.timing (epoch times)', () => {
  const entry = { startTime: 0, responseStart: 120.4, domContentLoadedEventEnd: 480.6, loadEventEnd: 0 };
  assert.deepEqual(navigationFigures(entry, 900.2), { ttfb: 120, dcl: 481, load: null, lcp: 900 });
  const old = { navigationStart: 1000000, responseStart: 1000050, domContentLoadedEventEnd: 1000300, loadEventEnd: 1000700 };
  assert.deepEqual(navigationFigures(old, null), { ttfb: 50, dcl: 300, load: 700, lcp: null });
  assert.equal(navigationFigures(null, null), null);
});

test('URLs inside error text lose their denied parameters', () => {
  const deny = new Set(DEFAULT_DENYLIST);
  const stack = 'Error: x\n    at pay (https://shop.example/app.js?token=abc&v=2:10:3)\n    at https://shop.example/cb#access_token=zz';
  const clean = stripTextUrls(stack, deny);
  assert.ok(!clean.includes('abc'));
  assert.ok(!clean.includes('zz'));
  assert.ok(clean.includes('https://shop.example/app.js'));
  assert.equal(stripTextUrls('no urls here', deny), 'no urls here');
});
