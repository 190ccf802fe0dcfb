// The project's privacy rules: fetched from GET {base}/i/v1/{key}/config before
// anything is recorded, merged with the options of init(), and turned into the
// selectors and lists the guard uses.

import { cleanEveryDays, cleanFeedback, cleanSurveys } from './surveys/definition.js';

// The server always sends its full list; these are kept in case it does not
// (the same defaults as sessionlens.privacy.DEFAULT_URL_DENYLIST).
export const DEFAULT_DENYLIST = [
  'token', 'password', 'passwd', 'pwd', 'email', 'key', 'apikey', 'code', 'session',
  'sessionid', 'sid', 'auth', 'authorization', 'secret', 'signature', 'otp', 'ssn',
];
const RETRY_DELAYS_MS = [1000, 3000];
const FETCH_TIMEOUT_MS = 10000;

function list(value) {
  if (typeof value === 'string') return value ? [value] : [];
  return Array.isArray(value) ? value.filter((item) => typeof item === 'string' && item.trim()) : [];
}

function rate(value) {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 && value <= 100 ? value : 100;
}

function flag(value, fallback) {
  return typeof value === 'boolean' ? value : fallback;
}

/**
 * The rules in force: the served config (`raw`, may be partial) plus init()
 * options, which can only add rules or make the mode stricter.
 */
export function mergeRules(raw, options) {
  const c = raw && typeof raw === 'object' ? raw : {};
  const o = options || {};
  const denylist = new Set(DEFAULT_DENYLIST);
  for (const name of list(c.url_param_denylist)) denylist.add(name.toLowerCase());
  return {
    maskAllText: flag(c.mask_all_text, false) || o.maskAllText === true,
    unmask: list(c.unmask_selectors).concat(list(o.unmaskSelectors)),
    maskText: list(c.mask_text_selectors).concat(list(o.maskTextSelectors), list(o.maskTextSelector)),
    block: list(c.block_selectors).concat(list(o.blockSelectors), list(o.blockSelector)),
    denylist,
    excludePages: list(c.exclude_pages),
    // Recording rules: the percent of sessions recorded and the pages to record (empty: all).
    sampleRate: rate(c.sample_rate),
    recordPages: list(c.record_pages),
    honourDnt: flag(c.honour_dnt, true),
    consentRequired: flag(c.consent_required, false) || o.consentRequired === true,
    cookieless: flag(c.cookieless, false) || o.cookieless === true,
    // Surveys and the feedback button (docs/surveys.md), checked: bad entries are dropped.
    surveys: cleanSurveys(c.surveys),
    surveyEveryDays: cleanEveryDays(c.survey_every_days),
    feedback: cleanFeedback(c.feedback),
  };
}

/**
 * Join the usable selectors into one (null when none). `check(selector)` says
 * whether one is valid CSS; bad ones are skipped and passed to `onBad`.
 */
export function joinSelectors(selectors, check, onBad) {
  const good = [];
  for (const raw of selectors) {
    const selector = raw.trim();
    if (selector && check(selector)) good.push(selector);
    else if (selector) onBad(selector);
  }
  return good.length ? good.join(',') : null;
}

let probe = null;

/**
 * Whether a selector is valid here. Each rule is also checked followed by a
 * sentinel: a rule that parses alone but swallows what follows it (an open
 * comment, string or bracket at its end) would break the joined selector.
 */
export function validSelector(selector) {
  try {
    if (!probe) probe = document.createElement('sl-probe');
    probe.matches(selector);
    return probe.matches(selector + ',sl-probe');
  } catch (_) {
    return false;
  }
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function fetchOnce(url) {
  const controller = typeof AbortController === 'function' ? new AbortController() : null;
  const timer = controller && setTimeout(() => controller.abort(), FETCH_TIMEOUT_MS);
  try {
    const response = await fetch(url, {
      credentials: 'omit',
      mode: 'cors',
      signal: controller ? controller.signal : undefined,
    });
    if (response.status === 404 || response.status === 403) return { final: true, config: null };
    if (!response.ok) return { final: false, config: null };
    const config = await response.json();
    return { final: true, config: config && typeof config === 'object' ? config : null };
  } catch (_) {
    return { final: false, config: null };
  } finally {
    if (timer) clearTimeout(timer);
  }
}

/**
 * The served config, or null when it cannot be had (unknown project, or still
 * failing after two retries): then nothing is recorded on this page.
 */
export async function fetchConfig(url) {
  for (let attempt = 0; ; attempt++) {
    const answer = await fetchOnce(url);
    if (answer.final || attempt >= RETRY_DELAYS_MS.length) return answer.config;
    await sleep(RETRY_DELAYS_MS[attempt]);
  }
}
