// node --test test/   Surveys and the feedback button: config checks, targeting, share,
// device, dates, the frequency state (with a fake storage), answers, colours.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mergeRules } from '../src/recorder/config.js';
import { fnv1a32 } from '../src/recorder/sampling.js';
import { answerFrom, missingRequired, shapeAnswers } from '../src/recorder/surveys/answers.js';
import {
  cleanEveryDays, cleanFeedback, cleanSurvey, cleanSurveys, MAX_QUESTIONS, MAX_SURVEYS,
} from '../src/recorder/surveys/definition.js';
import {
  MAX_DONE, mayInvite, parseState, serializeState, stateStore, withDone, withShown,
} from '../src/recorder/surveys/state.js';
import { luminance, textOn } from '../src/recorder/surveys/styles.js';
import {
  deviceOf, inDates, inShare, isExitIntent, isSmallScreen, pageTargeted, pickSurvey, triggerPlan, whyNot,
} from '../src/recorder/surveys/targeting.js';

const DAY_MS = 86400 * 1000;

function definition(overrides) {
  return Object.assign({
    id: 7,
    starts_ms: null,
    ends_ms: null,
    intro: 'Help us improve the shop (1 minute).',
    thanks: 'Thank you!',
    questions: [
      { id: 'q1', kind: 'nps', text: 'How likely are you to recommend us?', required: true },
      { id: 'q2', kind: 'single', text: 'What brought you here?', choices: ['Price', 'Range'], required: false },
      { id: 'q3', kind: 'multiple', text: 'Which did you use?', choices: ['Search', 'Filters', 'Menu'] },
      { id: 'q4', kind: 'rating', text: 'How easy was checkout?' },
      { id: 'q5', kind: 'text', text: 'Anything else?' },
    ],
    targeting: { pages: ['/products/*'], devices: ['desktop', 'mobile'], visitors: 'all', share: 100 },
    trigger: { kind: 'delay', seconds: 5 },
    theme: { color: '#2f6fde', position: 'bottom-right' },
  }, overrides);
}

function ctx(overrides) {
  return Object.assign({
    pathname: '/products/1', search: '', device: 'desktop', returning: false,
    visitorId: 'Zx9_-kLmN0pQrStUvWxYz1', now: 1764000000000, done: [],
  }, overrides);
}

test('a survey from the config is kept as sent when it is valid', () => {
  const survey = cleanSurvey(definition());
  assert.equal(survey.id, 7);
  assert.equal(survey.questions.length, 5);
  assert.deepEqual(survey.questions[1], { id: 'q2', kind: 'single', text: 'What brought you here?', required: false, choices: ['Price', 'Range'] });
  assert.equal(survey.questions[0].required, true);
  assert.deepEqual(survey.targeting, { pages: ['/products/*'], devices: ['desktop', 'mobile'], visitors: 'all', share: 100 });
  assert.deepEqual(survey.trigger, { kind: 'delay', seconds: 5 });
  assert.deepEqual(survey.theme, { color: '#2f6fde', position: 'bottom-right' });
  assert.equal(survey.startsMs, null);
});

test('bad survey values are dropped, never trusted', () => {
  assert.equal(cleanSurvey(null), null);
  assert.equal(cleanSurvey(definition({ id: '7' })), null);
  assert.equal(cleanSurvey(definition({ id: 0 })), null);
  assert.equal(cleanSurvey(definition({ id: 1.5 })), null);
  assert.equal(cleanSurvey(definition({ questions: 'q1' })), null);
  assert.equal(cleanSurvey(definition({ questions: [] })), null);
  const odd = cleanSurvey(definition({
    intro: 42,
    thanks: 'x'.repeat(900),
    questions: [
      { id: 'q1', kind: 'slider', text: 'Unknown kind' },
      { id: 'x1', kind: 'text', text: 'Bad id' },
      { id: 'q2', kind: 'text', text: '' },
      { id: 'q3', kind: 'single', text: 'One choice', choices: ['Only'] },
      { id: 'q4', kind: 'single', text: 'Dup choices', choices: ['A', 'A', 7, '', 'B'] },
      { id: 'q4', kind: 'text', text: 'Duplicate id' },
      { id: 'q5', kind: 'rating', text: '<img src=x onerror=alert(1)>', required: 'yes' },
    ],
    targeting: { pages: ['/ok', 'no-slash', 5], devices: ['phone', 'tablet'], visitors: 'sometimes', share: 'all' },
    trigger: { kind: 'scroll', seconds: 1e9 },
    theme: { color: 'red', position: 'top' },
    starts_ms: 'soon',
    ends_ms: 1764000000000,
  }));
  assert.deepEqual(odd.questions.map((q) => q.id), ['q4', 'q5']);
  assert.deepEqual(odd.questions[0].choices, ['A', 'B']);
  assert.equal(odd.questions[1].required, false);
  assert.equal(odd.questions[1].text, '<img src=x onerror=alert(1)>'); // kept as text; the widget sets textContent
  assert.equal(odd.intro, '');
  assert.equal(odd.thanks.length, 500);
  assert.deepEqual(odd.targeting, { pages: ['/ok'], devices: ['tablet'], visitors: 'all', share: 100 });
  assert.deepEqual(odd.trigger, { kind: 'delay', seconds: 600 });
  assert.deepEqual(odd.theme, { color: '#2f6fde', position: 'bottom-right' });
  assert.equal(odd.startsMs, null);
  assert.equal(odd.endsMs, 1764000000000);
});

test('huge lists are cut, repeated survey ids kept once', () => {
  const many = Array.from({ length: 40 }, (_, i) => ({ id: 'q' + (i + 1), kind: 'text', text: 'T' + i }));
  assert.equal(cleanSurvey(definition({ questions: many })).questions.length, MAX_QUESTIONS);
  const surveys = Array.from({ length: 500 }, (_, i) => definition({ id: i + 1 }));
  assert.equal(cleanSurveys(surveys).length, MAX_SURVEYS);
  assert.deepEqual(cleanSurveys([definition({ id: 3 }), definition({ id: 3 }), 'x', null, definition({ id: 4 })]).map((s) => s.id), [3, 4]);
  assert.deepEqual(cleanSurveys({ 0: definition() }), []);
  const choices = Array.from({ length: 30 }, (_, i) => 'c' + i);
  const survey = cleanSurvey(definition({ questions: [{ id: 'q1', kind: 'multiple', text: 'Many', choices }] }));
  assert.equal(survey.questions[0].choices.length, 10);
});

test('mergeRules passes surveys, the invitation cap and the feedback button through, checked', () => {
  const rules = mergeRules({
    surveys: [definition(), { id: 'bad' }],
    survey_every_days: 7,
    feedback: { enabled: true, color: '#ffcc00', position: 'left', label: 'Tell us' },
  }, {});
  assert.deepEqual(rules.surveys.map((s) => s.id), [7]);
  assert.equal(rules.surveyEveryDays, 7);
  const { texts: _texts, ...feedback } = rules.feedback;
  assert.deepEqual(feedback, { enabled: true, color: '#ffcc00', position: 'left', label: 'Tell us' });
  const empty = mergeRules({}, {});
  assert.deepEqual(empty.surveys, []);
  assert.equal(empty.surveyEveryDays, 30);
  assert.equal(empty.feedback.enabled, false);
  const wrong = mergeRules({ surveys: 'all', survey_every_days: 0, feedback: 'on' }, {});
  assert.deepEqual(wrong.surveys, []);
  assert.equal(wrong.surveyEveryDays, 30);
  assert.equal(wrong.feedback.enabled, false);
  for (const days of [366, 1.5, '7', null, -1]) assert.equal(cleanEveryDays(days), 30);
  assert.equal(cleanEveryDays(365), 365);
  assert.equal(cleanEveryDays(1), 1);
});

test('feedback settings: enabled only when exactly true, defaults for the rest', () => {
  const { texts: _texts, ...off } = cleanFeedback({ enabled: 'true' });
  assert.deepEqual(off, { enabled: false, color: '#2f6fde', position: 'right', label: 'Feedback' });
  assert.deepEqual(cleanFeedback({ enabled: true, position: 'bottom-right', label: '  ' }).position, 'bottom-right');
  assert.equal(cleanFeedback({ enabled: true, label: '  ' }).label, 'Feedback');
  assert.equal(cleanFeedback({ enabled: true, label: 'x'.repeat(100) }).label.length, 40);
  assert.equal(cleanFeedback({ enabled: true, position: 'top' }).position, 'right');
  assert.equal(cleanFeedback({ enabled: true, color: '#GGGGGG' }).color, '#2f6fde');
  assert.equal(cleanFeedback(undefined).enabled, false);
});

test('device: mobile and tablet need a coarse pointer', () => {
  assert.equal(deviceOf(375, true), 'mobile');
  assert.equal(deviceOf(767, true), 'mobile');
  assert.equal(deviceOf(768, true), 'tablet');
  assert.equal(deviceOf(1279, true), 'tablet');
  assert.equal(deviceOf(1280, true), 'desktop');
  assert.equal(deviceOf(375, false), 'desktop');
  assert.equal(deviceOf(1024, false), 'desktop');
  assert.equal(deviceOf(undefined, true), 'mobile');
});

test('share: FNV-1a of visitorId:surveyId mod 10000 below share x 100, the same on every page', () => {
  const visitor = 'Zx9_-kLmN0pQrStUvWxYz1';
  const bucket = fnv1a32(visitor + ':7') % 10000;
  assert.equal(inShare(visitor, 7, (bucket + 1) / 100), true);
  assert.equal(inShare(visitor, 7, bucket / 100), false);
  assert.equal(inShare(visitor, 7, 100), true);
  assert.equal(inShare(visitor, 7, 0), false);
  assert.equal(inShare(visitor, 7, 50), inShare(visitor, 7, 50));
  // about half of many visitors are in at 50 %
  let inside = 0;
  for (let i = 0; i < 2000; i++) if (inShare('visitor' + i, 7, 50)) inside++;
  assert.ok(inside > 850 && inside < 1150, String(inside));
  // the survey id matters: not the same visitors for every survey
  let differ = 0;
  for (let i = 0; i < 200; i++) if (inShare('visitor' + i, 7, 50) !== inShare('visitor' + i, 8, 50)) differ++;
  assert.ok(differ > 50, String(differ));
});

test('date range: starts_ms and ends_ms inclusive, either may be missing', () => {
  const s = { startsMs: 1000, endsMs: 2000 };
  assert.equal(inDates(s, 999), false);
  assert.equal(inDates(s, 1000), true);
  assert.equal(inDates(s, 2000), true);
  assert.equal(inDates(s, 2001), false);
  assert.equal(inDates({ startsMs: null, endsMs: null }, 0), true);
  assert.equal(inDates({ startsMs: null, endsMs: 5 }, 6), false);
});

test('pages: empty targets every page; patterns as the privacy rules', () => {
  assert.equal(pageTargeted([], '/anything', ''), true);
  assert.equal(pageTargeted(['/products/*'], '/products/1', ''), true);
  assert.equal(pageTargeted(['/products/*'], '/products', ''), false);
  assert.equal(pageTargeted(['/search?q=*'], '/search', '?q=lamp'), true);
  assert.equal(pageTargeted(['/search?q=*'], '/search', ''), false);
  assert.equal(pageTargeted(['bad', 3], '/x', ''), true); // no usable pattern: every page
});

test('targeting picks the first matching survey in the config order', () => {
  const a = cleanSurvey(definition({ id: 1, targeting: { pages: ['/cart'] } }));
  const b = cleanSurvey(definition({ id: 2, targeting: { devices: ['mobile'] } }));
  const c = cleanSurvey(definition({ id: 3, targeting: { visitors: 'returning' } }));
  const d = cleanSurvey(definition({ id: 4, targeting: { visitors: 'new' } }));
  const e = cleanSurvey(definition({ id: 5, targeting: {} }));
  const all = [a, b, c, d, e];
  assert.equal(whyNot(a, ctx()), 'page');
  assert.equal(whyNot(b, ctx()), 'device');
  assert.equal(whyNot(c, ctx()), 'visitor');
  assert.equal(pickSurvey(all, ctx()).id, 4);
  assert.equal(pickSurvey(all, ctx({ returning: true })).id, 3);
  assert.equal(pickSurvey(all, ctx({ device: 'mobile' })).id, 2);
  assert.equal(pickSurvey(all, ctx({ pathname: '/cart' })).id, 1);
  assert.equal(pickSurvey(all, ctx({ done: [4] })).id, 5);
  assert.equal(whyNot(e, ctx({ done: [5] })), 'done');
  assert.equal(pickSurvey(all, ctx({ done: [4, 5] })), null);
  const late = cleanSurvey(definition({ id: 6, starts_ms: 2e12, targeting: {} }));
  assert.equal(whyNot(late, ctx()), 'dates');
  const none = cleanSurvey(definition({ id: 7, targeting: { share: 0 } }));
  assert.equal(whyNot(none, ctx()), 'share');
  assert.equal(pickSurvey([], ctx()), null);
});

test('trigger: delay in ms; exit intent, or on a coarse pointer the delay (at least 10 s)', () => {
  assert.deepEqual(triggerPlan({ kind: 'delay', seconds: 5 }, false), { kind: 'delay', ms: 5000 });
  assert.deepEqual(triggerPlan({ kind: 'delay', seconds: 0 }, true), { kind: 'delay', ms: 0 });
  assert.deepEqual(triggerPlan({ kind: 'exit', seconds: 0 }, false), { kind: 'exit' });
  assert.deepEqual(triggerPlan({ kind: 'exit', seconds: 0 }, true), { kind: 'delay', ms: 10000 });
  assert.deepEqual(triggerPlan({ kind: 'exit', seconds: 30 }, true), { kind: 'delay', ms: 30000 });
  assert.equal(isExitIntent({ relatedTarget: null, clientY: 0 }), true);
  assert.equal(isExitIntent({ relatedTarget: null, clientY: -3 }), true);
  assert.equal(isExitIntent({ relatedTarget: null, clientY: 40 }), false);
  assert.equal(isExitIntent({ relatedTarget: {}, clientY: -3 }), false);
  assert.equal(isSmallScreen(599, 900), true);
  assert.equal(isSmallScreen(1200, 499), true);
  assert.equal(isSmallScreen(600, 500), false);
});

function fakeBackend(options) {
  const o = options || {};
  const data = { cookie: null, local: null, cookieWrites: 0, localWrites: 0 };
  return {
    data,
    readCookie: () => data.cookie,
    writeCookie: (value) => {
      data.cookieWrites++;
      if (o.noCookie) return false;
      data.cookie = value;
      return true;
    },
    readLocal: () => data.local,
    writeLocal: (value) => {
      data.localWrites++;
      if (o.noLocal) return false;
      data.local = value;
      return true;
    },
  };
}

test('state: parsed defensively, written as {"t","done"}', () => {
  assert.deepEqual(parseState(null), { t: 0, done: [] });
  assert.deepEqual(parseState('{bad'), { t: 0, done: [] });
  assert.deepEqual(parseState('{"t":"x","done":"y"}'), { t: 0, done: [] });
  assert.deepEqual(parseState('{"t":1764000000,"done":[3,"4",-1,5]}'), { t: 1764000000, done: [3, 5] });
  assert.equal(serializeState({ t: 12, done: [1, 2] }), '{"t":12,"done":[1,2]}');
  const many = { t: 1, done: Array.from({ length: 80 }, (_, i) => i + 1) };
  assert.equal(parseState(serializeState(many)).done.length, MAX_DONE);
});

test('frequency: no survey within survey_every_days of the last invitation', () => {
  const now = 1764000000000;
  assert.equal(mayInvite({ t: 0, done: [] }, now, 30), true);
  const shown = withShown({ t: 0, done: [4] }, now);
  assert.deepEqual(shown, { t: 1764000000, done: [4] });
  assert.equal(mayInvite(shown, now + 29 * DAY_MS, 30), false);
  assert.equal(mayInvite(shown, now + 30 * DAY_MS - 1000, 30), false);
  assert.equal(mayInvite(shown, now + 30 * DAY_MS, 30), true);
  assert.equal(mayInvite(shown, now + DAY_MS, 1), true);
});

test('done: answered or dismissed surveys, newest 50 kept', () => {
  let state = { t: 5, done: [] };
  for (let id = 1; id <= 60; id++) state = withDone(state, id);
  assert.equal(state.done.length, MAX_DONE);
  assert.equal(state.done[0], 11);
  assert.equal(state.done[49], 60);
  state = withDone(state, 11);
  assert.equal(state.done[49], 11);
  assert.equal(state.done.length, MAX_DONE);
  assert.equal(state.t, 5);
});

test('state store: cookie first, localStorage when the cookie cannot be written, cookieless never the cookie', () => {
  const both = fakeBackend();
  const s1 = stateStore(both, false);
  assert.equal(s1.write({ t: 10, done: [1] }), true);
  assert.equal(both.data.cookie, '{"t":10,"done":[1]}');
  assert.equal(both.data.local, null);
  assert.deepEqual(s1.read(), { t: 10, done: [1] });

  const noCookie = fakeBackend({ noCookie: true });
  const s2 = stateStore(noCookie, false);
  assert.equal(s2.write({ t: 11, done: [] }), true);
  assert.equal(noCookie.data.local, '{"t":11,"done":[]}');
  assert.deepEqual(s2.read(), { t: 11, done: [] });

  const cookieless = fakeBackend();
  const s3 = stateStore(cookieless, true);
  assert.equal(s3.write({ t: 12, done: [2] }), true);
  assert.equal(cookieless.data.cookieWrites, 0);
  assert.equal(cookieless.data.cookie, null);
  assert.deepEqual(s3.read(), { t: 12, done: [2] });
  cookieless.data.cookie = '{"t":99,"done":[]}'; // a cookie is not even read in cookieless mode
  assert.deepEqual(s3.read(), { t: 12, done: [2] });

  const nowhere = fakeBackend({ noCookie: true, noLocal: true });
  assert.equal(stateStore(nowhere, false).write({ t: 1, done: [] }), false);
  assert.equal(stateStore(fakeBackend({ noLocal: true }), true).write({ t: 1, done: [] }), false);
});

const QUESTIONS = cleanSurvey(definition()).questions;
const [NPS, SINGLE, MULTIPLE, RATING, TEXT] = QUESTIONS;

test('answers: numbers for rating and nps, a string for single, a list for multiple, text as typed', () => {
  assert.equal(answerFrom(NPS, ['0']), 0);
  assert.equal(answerFrom(NPS, ['10']), 10);
  assert.equal(answerFrom(NPS, ['11']), undefined);
  assert.equal(answerFrom(NPS, []), undefined);
  assert.equal(answerFrom(RATING, ['4']), 4);
  assert.equal(answerFrom(RATING, ['0']), undefined);
  assert.equal(answerFrom(RATING, ['4.5']), undefined);
  assert.equal(answerFrom(SINGLE, ['Range']), 'Range');
  assert.equal(answerFrom(SINGLE, ['Other']), undefined);
  assert.deepEqual(answerFrom(MULTIPLE, ['Menu', 'Search', 'Nope']), ['Search', 'Menu']); // choice order
  assert.equal(answerFrom(MULTIPLE, []), undefined);
  assert.equal(answerFrom(TEXT, '  Nice shop '), '  Nice shop ');
  assert.equal(answerFrom(TEXT, '   '), undefined);
  assert.equal(answerFrom(TEXT, 'x'.repeat(3000)).length, 2000);
  assert.equal(answerFrom({ id: 'q9', kind: 'slider' }, ['1']), undefined);
});

test('required questions block the step only when unanswered', () => {
  assert.equal(missingRequired(NPS, undefined), true);
  assert.equal(missingRequired(NPS, 0), false);
  assert.equal(missingRequired(SINGLE, undefined), false);
});

test('the answers sent hold only the survey questions, valid values', () => {
  const shaped = shapeAnswers(QUESTIONS, { q1: 9, q2: 'Price', q3: ['Search'], q4: 4, q5: 'Fine', q9: 'x' });
  assert.deepEqual(shaped, { q1: 9, q2: 'Price', q3: ['Search'], q4: 4, q5: 'Fine' });
  assert.deepEqual(shapeAnswers(QUESTIONS, { q1: undefined, q2: 'Nope', q4: 9, q5: '' }), {});
  assert.deepEqual(shapeAnswers(QUESTIONS, null), {});
});

test('the text on the accent colour is black or white, whichever contrasts more', () => {
  assert.equal(textOn('#2f6fde'), '#ffffff');
  assert.equal(textOn('#000000'), '#ffffff');
  assert.equal(textOn('#ffffff'), '#000000');
  assert.equal(textOn('#ffcc00'), '#000000');
  assert.equal(textOn('#777777'), '#000000');
  assert.equal(textOn('not a colour'), '#ffffff'); // the default accent
  assert.ok(Math.abs(luminance('#ffffff') - 1) < 1e-9);
  assert.equal(luminance('#000000'), 0);
});

test('a survey may say the widget texts in its own language; the rest stay English', async () => {
  const { cleanSurvey, cleanTexts, TEXTS } = await import('../src/recorder/surveys/definition.js');
  const survey = cleanSurvey({
    id: 3,
    questions: [{ id: 'q1', kind: 'nps', text: 'Empfehlen?' }],
    texts: { next: 'Weiter', submit: 'Senden', nps_low: '', unknown: 'x', close: 42 },
  });
  assert.equal(survey.texts.next, 'Weiter');
  assert.equal(survey.texts.submit, 'Senden');
  assert.equal(survey.texts.nps_low, TEXTS.nps_low);
  assert.equal(survey.texts.close, TEXTS.close);
  assert.equal('unknown' in survey.texts, false);
  assert.deepEqual(cleanTexts(null), TEXTS);
  assert.equal(cleanTexts({ title: 'x'.repeat(500) }).title.length, 100);
});

test('the feedback panel may speak the site language; the rest stays English', async () => {
  const { cleanFeedback, FEEDBACK_TEXTS } = await import('../src/recorder/surveys/definition.js');
  const settings = cleanFeedback({ enabled: true, texts: { send: 'Senden', rating_1: 'Sehr schlecht', bogus: 'x', thanks: 7 } });
  assert.equal(settings.texts.send, 'Senden');
  assert.equal(settings.texts.rating_1, 'Sehr schlecht');
  assert.equal(settings.texts.thanks, FEEDBACK_TEXTS.thanks);
  assert.equal('bogus' in settings.texts, false);
  assert.deepEqual(cleanFeedback(null).texts, FEEDBACK_TEXTS);
});
