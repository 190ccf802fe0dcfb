// The surveys, the invitation cap and the feedback button as the config sends them
// (docs/surveys.md, "What the recorder is sent"), checked before anything uses them:
// a value of the wrong type, an unknown kind or an oversized list is dropped, never
// trusted. Pure functions, no DOM.

export const MAX_SURVEYS = 20;
export const MAX_QUESTIONS = 10;
export const MAX_CHOICES = 10;
export const MAX_PAGES = 100;
export const MAX_TEXT_ANSWER = 2000;
export const KINDS = ['single', 'multiple', 'rating', 'nps', 'text'];
export const DEVICES = ['desktop', 'tablet', 'mobile'];
export const DEFAULT_COLOR = '#2f6fde';
export const DEFAULT_EVERY_DAYS = 30;
export const DEFAULT_FEEDBACK_LABEL = 'Feedback';

const QUESTION_ID = /^q\d{1,9}$/;
const COLOR = /^#[0-9a-fA-F]{6}$/;

function isObject(value) {
  return !!value && typeof value === 'object' && !Array.isArray(value);
}

function text(value, max) {
  return typeof value === 'string' ? value.slice(0, max) : '';
}

function finiteOrNull(value) {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

function choices(value) {
  if (!Array.isArray(value)) return null;
  const out = [];
  for (const item of value.slice(0, 50)) {
    if (typeof item !== 'string' || !item || item.length > 100 || out.indexOf(item) >= 0) continue;
    out.push(item);
    if (out.length >= MAX_CHOICES) break;
  }
  return out.length >= 2 ? out : null;
}

/** One question, or null when it cannot be shown (unknown kind, bad id, no text, too few choices). */
export function cleanQuestion(raw) {
  if (!isObject(raw)) return null;
  const { id, kind } = raw;
  if (typeof id !== 'string' || !QUESTION_ID.test(id)) return null;
  if (KINDS.indexOf(kind) < 0) return null;
  if (typeof raw.text !== 'string' || !raw.text.trim()) return null;
  const question = { id, kind, text: raw.text.slice(0, 300), required: raw.required === true };
  if (kind === 'single' || kind === 'multiple') {
    const list = choices(raw.choices);
    if (!list) return null;
    question.choices = list;
  }
  return question;
}

function cleanTargeting(raw) {
  const t = isObject(raw) ? raw : {};
  const pages = Array.isArray(t.pages)
    ? t.pages.slice(0, MAX_PAGES).filter((p) => typeof p === 'string' && p.charAt(0) === '/' && p.length <= 500)
    : [];
  const devices = Array.isArray(t.devices)
    ? DEVICES.filter((d) => t.devices.slice(0, 10).indexOf(d) >= 0)
    : [];
  const visitors = ['all', 'new', 'returning'].indexOf(t.visitors) >= 0 ? t.visitors : 'all';
  const share = typeof t.share === 'number' && Number.isFinite(t.share) ? Math.max(0, Math.min(100, t.share)) : 100;
  return { pages, devices, visitors, share };
}

function cleanTrigger(raw) {
  const t = isObject(raw) ? raw : {};
  const kind = t.kind === 'exit' ? 'exit' : 'delay';
  const seconds = typeof t.seconds === 'number' && Number.isFinite(t.seconds) ? Math.max(0, Math.min(600, t.seconds)) : 0;
  return { kind, seconds };
}

export function cleanColor(value) {
  return typeof value === 'string' && COLOR.test(value) ? value.toLowerCase() : DEFAULT_COLOR;
}

function cleanTheme(raw) {
  const t = isObject(raw) ? raw : {};
  return {
    color: cleanColor(t.color),
    position: t.position === 'bottom-left' ? 'bottom-left' : 'bottom-right',
  };
}

/**
 * One survey as the widget uses it, or null when it cannot be shown. `id` is a
 * positive integer; questions that cannot be shown are left out (a survey with
 * none left is dropped).
 */
export function cleanSurvey(raw) {
  if (!isObject(raw)) return null;
  const id = raw.id;
  if (typeof id !== 'number' || !Number.isSafeInteger(id) || id <= 0) return null;
  if (!Array.isArray(raw.questions)) return null;
  const questions = [];
  const seen = new Set();
  for (const item of raw.questions.slice(0, 50)) {
    const question = cleanQuestion(item);
    if (!question || seen.has(question.id)) continue;
    seen.add(question.id);
    questions.push(question);
    if (questions.length >= MAX_QUESTIONS) break;
  }
  if (!questions.length) return null;
  return {
    id,
    startsMs: finiteOrNull(raw.starts_ms),
    endsMs: finiteOrNull(raw.ends_ms),
    intro: text(raw.intro, 500),
    thanks: text(raw.thanks, 500),
    questions,
    targeting: cleanTargeting(raw.targeting),
    trigger: cleanTrigger(raw.trigger),
    theme: cleanTheme(raw.theme),
    texts: cleanTexts(raw.texts),
  };
}

/**
 * The widget's words (the same keys and defaults as sessionlens.surveys.definition.TEXTS):
 * the survey's own where it has them, else English.
 */
export const TEXTS = {
  title: 'Quick survey',
  invitation: 'Quick question?',
  open: 'Answer',
  next: 'Next',
  back: 'Back',
  submit: 'Submit',
  close: 'Close survey',
  of: 'of',
  required: 'Please answer this question to continue.',
  required_mark: '(required)',
  choose_any: 'Choose any.',
  your_answer: 'Your answer (up to 2,000 characters)',
  nps_low: 'Not likely',
  nps_high: 'Very likely',
  rating_low: 'Very poor',
  rating_high: 'Excellent',
};

export function cleanTexts(raw) {
  const out = {};
  for (const key of Object.keys(TEXTS)) {
    const words = isObject(raw) ? text(raw[key], 100) : '';
    out[key] = words || TEXTS[key];
  }
  return out;
}

/** The config's `surveys`, in its order, the unusable ones (and repeated ids) left out. */
export function cleanSurveys(raw) {
  if (!Array.isArray(raw)) return [];
  const out = [];
  const seen = new Set();
  for (const item of raw.slice(0, MAX_SURVEYS * 5)) {
    const survey = cleanSurvey(item);
    if (!survey || seen.has(survey.id)) continue;
    seen.add(survey.id);
    out.push(survey);
    if (out.length >= MAX_SURVEYS) break;
  }
  return out;
}

/** `survey_every_days`: an integer 1-365, else the default 30. */
export function cleanEveryDays(raw) {
  return typeof raw === 'number' && Number.isInteger(raw) && raw >= 1 && raw <= 365 ? raw : DEFAULT_EVERY_DAYS;
}

/** The feedback button's settings; `enabled` only when the config says exactly true. */
export function cleanFeedback(raw) {
  const f = isObject(raw) ? raw : {};
  const label = typeof f.label === 'string' && f.label.trim() ? f.label.trim().slice(0, 40) : DEFAULT_FEEDBACK_LABEL;
  return {
    enabled: f.enabled === true,
    color: cleanColor(f.color),
    position: ['right', 'left', 'bottom-right'].indexOf(f.position) >= 0 ? f.position : 'right',
    label,
    texts: cleanFeedbackTexts(f.texts),
  };
}

/** The feedback panel's words (sessionlens.surveys.settings.FEEDBACK_TEXTS): the project's, else English. */
export const FEEDBACK_TEXTS = {
  title: 'Feedback on this page',
  question: 'How would you rate this page?',
  rating_1: 'Very bad',
  rating_2: 'Bad',
  rating_3: 'OK',
  rating_4: 'Good',
  rating_5: 'Very good',
  comment: 'Comment (optional)',
  pick: 'Highlight an element',
  pick_hint: 'Click the part of the page you mean (Tab moves, Enter picks, Escape cancels).',
  picked: 'Highlighted:',
  remove: 'Remove',
  send: 'Send',
  close: 'Close feedback',
  required: 'Please choose a rating before sending.',
  thanks: 'Thank you for your feedback.',
};

export function cleanFeedbackTexts(raw) {
  const out = {};
  for (const key of Object.keys(FEEDBACK_TEXTS)) {
    const words = isObject(raw) ? text(raw[key], 100) : '';
    out[key] = words || FEEDBACK_TEXTS[key];
  }
  return out;
}
