// sessionlens.js: bootstrap, the window.sessionlens API, and the decision to
// record or not.
//
// <script src="BASE/sessionlens.js" data-project="KEY" defer></script>
// fetches the project's rules (GET BASE/i/v1/KEY/config) and then records,
// unless the visitor opted out, sends Do-Not-Track / Global Privacy Control,
// has not consented (consent mode) or the page is excluded. Nothing is recorded
// or stored before the rules are known. Nothing here may throw into the host page.

import { blockReason, isOptedOut, privacySignal, rememberOptOut } from './consent.js';
import { fetchConfig, joinSelectors, mergeRules, validSelector } from './config.js';
import { watchErrors, watchTiming } from './errors.js';
import { watchForms } from './forms.js';
import { watchInteractions } from './interactions.js';
import { setGuardRules } from './guard.js';
import { OFF_KEY, forgetIds, isValidId, randomId } from './ids.js';
import { pageExcluded, pageRecorded, watchNavigation } from './page.js';
import { Recorder } from './recorder.js';
import { sampledIn } from './sampling.js';
import { local, readCookie, session as tabStorage, useStorage } from './storage.js';
import { stripUrl } from './urls.js';
import { createSurveys } from './surveys/index.js';


// Only valid while this script runs for the first time.
const ownScript = document.currentScript;
const MAX_EARLY_CALLS = 100;

// Nothing of ours is stored until the rules allow it (and never in cookieless mode).
useStorage(false);

const ctl = {
  options: null, // init() options, once started
  batchUrl: '',
  configUrl: '',
  loading: false,
  failed: false, // the config could not be fetched: nothing is recorded on this page
  rules: null,
  stopped: false, // stop(), or the server refused the project / origin
  consent: null, // null until the page says; true / false
  optedOut: false,
  recorder: null,
  early: [], // custom events called before the recorder exists
  waiting: [], // the recorder's own events from before the rules were known, with their page
  off: null, // {sid, reason}: the session the server refused (monthly quota)
  prefix: '', // {base}/i/v1/{key}
  storedVisitor: '', // the visitor id found stored when the page loaded ('' for a new visitor)
  pageVisitor: '', // the visitor id for surveys on a page the recorder has not begun on
  surveys: null, // surveys/index.js, once the rules are known
};

function scriptElement() {
  return ownScript || document.querySelector('script[data-project]');
}

/** Origin + path prefix of the script's own URL: https://x.example/sl/sessionlens.js -> https://x.example/sl */
function baseFromScript(el) {
  if (!el || !el.src) return '';
  const url = new URL(el.src, location.href);
  return url.origin + url.pathname.replace(/\/[^/]*$/, '');
}

function safe(fn) {
  try {
    return fn();
  } catch (_) {
    return undefined;
  }
}

/** Why nothing may be recorded now ('' when it may), once the rules are known. */
function blocker() {
  return blockReason({
    optedOut: ctl.optedOut,
    consent: ctl.consent,
    signal: privacySignal(navigator, window),
    honourDnt: ctl.rules.honourDnt,
    consentRequired: ctl.rules.consentRequired,
  });
}

/** Whether a page is not recorded: excluded (privacy rules) or not one of the pages to record. */
function skipped(rules, pathname, search) {
  return pageExcluded(rules.excludePages, pathname, search) || !pageRecorded(rules.recordPages, pathname, search);
}

function excluded() {
  return skipped(ctl.rules, location.pathname, location.search);
}

/** '' when a session may be recorded, else why not (recording rules, the server's quota). */
function keepSession(sid) {
  const off = ctl.off || safe(() => JSON.parse(tabStorage.get(OFF_KEY) || 'null'));
  if (off && off.sid === sid) return off.reason;
  return sampledIn(sid, ctl.rules.sampleRate) ? '' : 'sampled-out';
}

function sessionOff(sid, reason) {
  ctl.off = { sid, reason };
  tabStorage.set(OFF_KEY, JSON.stringify(ctl.off));
}

/** Bring the recording, the surveys and the feedback button in line with the rules, the visitor's choices and the page. */
function update() {
  updateRecording();
  safe(updateSurveys);
}

function updateRecording() {
  if (!ctl.options || ctl.stopped) return;
  if (ctl.optedOut || ctl.consent === false) {
    if (ctl.recorder) ctl.recorder.end(true);
    return;
  }
  if (!ctl.rules) {
    if (!ctl.loading && !ctl.failed) load();
    return;
  }
  if (blocker()) {
    if (ctl.recorder) ctl.recorder.end(true);
    return;
  }
  const recorder = ctl.recorder || createRecorder();
  if (excluded()) {
    recorder.pause();
    return;
  }
  useStorage(!ctl.rules.cookieless);
  if (recorder.begun) recorder.resume();
  else recorder.begin();
}

async function load() {
  ctl.loading = true;
  try {
    const raw = await fetchConfig(ctl.configUrl);
    if (raw) ctl.rules = mergeRules(raw, ctl.options);
    if (ctl.rules) flushWaiting();
  } catch (_) {
    // fail safe: no rules, no recording
  }
  ctl.loading = false;
  ctl.failed = !ctl.rules;
  safe(update);
}

/**
 * Surveys and the feedback button may show once the rules are known, nothing blocks
 * (opt-out, DNT/GPC when honoured, consent) and the privacy rules do not exclude the
 * page; sampling and the pages to record do not matter (docs/surveys.md).
 */
function surveysAllowed() {
  if (!ctl.options || ctl.stopped || !ctl.rules) return false;
  if (blocker()) return false;
  return !pageExcluded(ctl.rules.excludePages, location.pathname, location.search);
}

function surveyVisitorId() {
  const batcher = ctl.recorder && ctl.recorder.batcher;
  if (batcher && batcher.visitorId) return batcher.visitorId;
  // The recorder has not begun (a page not to record): the stored id, else one for this page.
  if (!ctl.pageVisitor) ctl.pageVisitor = (!ctl.rules.cookieless && ctl.storedVisitor) || randomId();
  return ctl.pageVisitor;
}

function updateSurveys() {
  if (!ctl.surveys) {
    if (!ctl.rules || !surveysAllowed()) return;
    ctl.surveys = createSurveys({
      rules: () => ctl.rules,
      allowed: surveysAllowed,
      visitorId: surveyVisitorId,
      sessionId: () => (ctl.recorder && ctl.recorder.session ? ctl.recorder.session.id : ''),
      returning: () => !!ctl.storedVisitor,
      endpoint: ctl.prefix,
      strip: (url) => stripUrl(url, ctl.rules.denylist),
      addEvent: (tag, payload) => addOwn(tag, payload),
    });
  }
  ctl.surveys.sync();
}

/** The visitor id stored before the recorder ran on this page (read only, nothing written). */
function storedVisitorId() {
  const fromCookie = readCookie('_sl_vid', true);
  if (isValidId(fromCookie)) return fromCookie;
  const fromLocal = local.get('_sl_vid', true);
  return isValidId(fromLocal) ? fromLocal : '';
}

function createRecorder() {
  const rules = ctl.rules;
  const bad = [];
  const keep = (list) => joinSelectors(list, validSelector, (selector) => bad.push(selector));
  const unmask = keep(rules.unmask);
  const mask = keep(rules.maskText);
  const block = keep(['[data-sl-block]'].concat(rules.block));
  if (bad.length) safe(() => console.warn('sessionlens: invalid selectors skipped: ' + bad.join(' | ')));
  setGuardRules({ unmask, mask, maskAll: rules.maskAllText, denylist: rules.denylist });
  const recorder = new Recorder({
    url: ctl.batchUrl,
    blockSelector: block,
    maskTitle: rules.maskAllText,
    onHalt: halt,
    keepSession,
    onSessionOff: sessionOff,
  });
  recorder.early = ctl.early;
  ctl.early = [];
  ctl.recorder = recorder;
  watchNavigation(onNavigate, () => !ctl.stopped);
  window.addEventListener('pagehide', () => safe(() => recorder.unload(true)));
  window.addEventListener('pageshow', (e) => safe(() => e.persisted && recorder.reclaim()));
  document.addEventListener('visibilitychange', () => safe(() => {
    if (document.visibilityState === 'hidden') recorder.unload(false);
  }));
  return recorder;
}

function onNavigate(href) {
  const recorder = ctl.recorder;
  const wasRunning = recorder.running;
  update();
  // Into an excluded page it paused; out of one it took a new full snapshot.
  if (wasRunning && recorder.running) recorder.page(href);
}

// The server answered 403/404 to a batch: unknown project or origin.
function halt() {
  ctl.stopped = true;
  if (ctl.recorder) ctl.recorder.stopRecording();
  safe(updateSurveys);
}

function addCustom(tag, payload) {
  if (ctl.recorder) ctl.recorder.addCustom(tag, payload);
  else if (ctl.early.length < MAX_EARLY_CALLS) ctl.early.push([tag, payload]);
}

function here() {
  return { pathname: location.pathname, search: location.search };
}

/**
 * The recorder's own events (errors, timing, clicks, forms) are never kept from an excluded
 * page: checked against the page they came from (`at`, the current one by default), and
 * until the rules are known they wait with it.
 */
function addOwn(tag, payload, at) {
  const where = at || here();
  if (!ctl.rules) {
    if (ctl.waiting.length < MAX_EARLY_CALLS) ctl.waiting.push([tag, payload, where]);
    return;
  }
  if (!skipped(ctl.rules, where.pathname, where.search)) addCustom(tag, payload);
}

function flushWaiting() {
  const waiting = ctl.waiting;
  ctl.waiting = [];
  for (const [tag, payload, where] of waiting) addOwn(tag, payload, where);
}

function plain(value) {
  if (value == null) return {};
  try {
    return JSON.parse(JSON.stringify(value));
  } catch (_) {
    return {};
  }
}

function start(options) {
  if (ctl.options) return;
  const el = scriptElement();
  const projectKey = options.projectKey || (el && el.getAttribute('data-project'));
  const baseUrl = String(options.baseUrl || baseFromScript(el)).replace(/\/+$/, '');
  if (!projectKey || !baseUrl) return;
  const prefix = baseUrl + '/i/v1/' + encodeURIComponent(projectKey);
  ctl.prefix = prefix;
  ctl.storedVisitor = ctl.storedVisitor || storedVisitorId();
  ctl.batchUrl = prefix + '/batch';
  ctl.configUrl = prefix + '/config';
  ctl.options = options;
  ctl.optedOut = ctl.optedOut || isOptedOut();
  // Before the recorder's listeners: the timing event must be in the batch sent on hide.
  const loaded = here();
  watchErrors((payload) => addOwn('sessionlens.error', payload));
  watchTiming(location.href, (payload) => addOwn('sessionlens.timing', payload, loaded));
  watchInteractions((tag, payload) => addOwn(tag, payload), prefix + '/');
  watchForms((tag, payload) => addOwn(tag, payload), () => ctl.recorder);
  update();
}

/** What the recorder is doing, for the page and for support: see client/README.md. */
function status() {
  if (!ctl.options) return 'idle';
  if (ctl.optedOut) return 'opted-out';
  if (ctl.stopped) return 'stopped';
  if (ctl.failed) return 'no-config';
  if (!ctl.rules || ctl.loading) return 'loading';
  const reason = blocker();
  if (reason) return reason;
  if (excluded()) return 'excluded';
  if (ctl.recorder && ctl.recorder.off) return ctl.recorder.off;
  return ctl.recorder && ctl.recorder.running ? 'recording' : 'starting';
}

const api = {
  version: 1,
  /**
   * @param {{projectKey?: string, baseUrl?: string, unmaskSelectors?: string[],
   *   maskTextSelectors?: string[], blockSelectors?: string[], consentRequired?: boolean,
   *   cookieless?: boolean}} options
   */
  init(options) {
    safe(() => start(options || {}));
  },
  identify(userId, traits) {
    if (userId == null || userId === '') return;
    safe(() => addCustom('sessionlens.identify', { user_id: String(userId), traits: plain(traits) }));
  },
  event(name, props) {
    safe(() => addCustom('sessionlens.event', { name: String(name), props: plain(props) }));
  },
  /** The visitor's consent (consent mode): true starts recording, false stops it and removes our ids. */
  consent(granted) {
    safe(() => {
      ctl.consent = Boolean(granted);
      if (!ctl.consent) {
        ctl.early = [];
        ctl.waiting = [];
        forgetIds();
      }
      update();
    });
  },
  /** Stop, remove our ids, and remember the choice for this visitor (cookie + localStorage, 1 year). */
  optOut() {
    safe(() => {
      ctl.optedOut = true;
      ctl.early = [];
      ctl.waiting = [];
      rememberOptOut(true);
      forgetIds();
      update();
    });
  },
  optIn() {
    safe(() => {
      ctl.optedOut = false;
      rememberOptOut(false);
      update();
    });
  },
  status() {
    return safe(status) || 'idle';
  },
  stop() {
    safe(() => {
      ctl.stopped = true;
      if (ctl.recorder) ctl.recorder.pause();
      safe(updateSurveys);
    });
  },
};

safe(() => {
  if (window.sessionlens && window.sessionlens.version) return; // included twice: the first one records
  // A page may have queued calls before the script loaded: window.sessionlens = [['identify', 'u1'], ...]
  const queued = Array.isArray(window.sessionlens) ? window.sessionlens : [];
  window.sessionlens = api;
  const el = scriptElement();
  if (el && el.getAttribute('data-project')) api.init({});
  for (const call of queued) {
    if (call && typeof api[call[0]] === 'function') api[call[0]].apply(api, call.slice(1));
  }
});
