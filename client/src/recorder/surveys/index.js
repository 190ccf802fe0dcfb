// Surveys and the feedback button inside the recorder: when they may appear, which
// survey, when it opens, what is stored and sent (docs/surveys.md). The recorder's
// index.js calls sync() after every change of rules, consent, opt-out or page.
//
// env: {
//   rules(): the merged rules (config.js mergeRules: surveys, surveyEveryDays, feedback,
//            cookieless) or null,
//   allowed(): whether anything may be shown now (rules known, blocker() '', the page
//            not excluded by the privacy rules, not stopped),
//   visitorId(), sessionId(), returning(): the recorder's ids and whether the visitor id
//            was stored before this page loaded,
//   endpoint: '{base}/i/v1/{key}', strip(url): denied parameters removed,
//   addEvent(tag, payload): a custom event in the recording,
// }

import { randomId } from '../ids.js';
import { showFeedback } from './feedback.js';
import { postJson } from './send.js';
import { mayInvite, stateStore, withDone, withShown } from './state.js';
import { deviceOf, isExitIntent, pickSurvey, triggerPlan, whyNot } from './targeting.js';
import { openSurvey } from './widget.js';

function coarsePointer(win) {
  try {
    return !!(win.matchMedia && win.matchMedia('(pointer: coarse)').matches);
  } catch (_) {
    return false;
  }
}

function guarded(fn) {
  return function () {
    try {
      return fn.apply(this, arguments);
    } catch (_) {
      return undefined;
    }
  };
}

export function createSurveys(env, win, doc) {
  const w = win || window;
  const d = doc || document;
  let lastHref = null;
  let pending = null; // {survey, cancel()}
  let widget = null; // the open widget's controller
  let shownThisPage = false; // at most one survey per page view (this document)
  let feedback = null;

  function store() {
    const rules = env.rules();
    return stateStore(null, !!(rules && rules.cookieless));
  }

  function context(done) {
    const rules = env.rules();
    return {
      pathname: w.location.pathname,
      search: w.location.search,
      device: deviceOf(w.innerWidth || 0, coarsePointer(w)),
      returning: !rules.cookieless && env.returning(),
      visitorId: env.visitorId(),
      now: Date.now(),
      done,
    };
  }

  function cancelPending() {
    if (pending) pending.cancel();
    pending = null;
  }

  function schedule(survey) {
    const plan = triggerPlan(survey.trigger, coarsePointer(w));
    const fire = guarded(() => {
      if (pending && pending.survey === survey) pending = null;
      show(survey);
    });
    if (plan.kind === 'exit') {
      const onOut = guarded((event) => {
        if (!isExitIntent(event)) return;
        d.removeEventListener('mouseout', onOut, true);
        fire();
      });
      d.addEventListener('mouseout', onOut, true);
      pending = { survey, cancel: () => d.removeEventListener('mouseout', onOut, true) };
    } else {
      const timer = setTimeout(fire, plan.ms);
      pending = { survey, cancel: () => clearTimeout(timer) };
    }
  }

  /** Re-check everything at the moment of showing: the state may have changed meanwhile (another tab). */
  function show(survey) {
    if (shownThisPage || widget || !env.allowed()) return;
    const rules = env.rules();
    const states = store();
    const state = states.read();
    if (!mayInvite(state, Date.now(), rules.surveyEveryDays)) return;
    if (whyNot(survey, context(state.done))) return;
    // t first: without a stored state the cap could not be kept, so nothing is shown.
    if (!states.write(withShown(state, Date.now()))) return;
    shownThisPage = true;
    const responseId = randomId();
    const report = (status, answers) => {
      const body = {
        response_id: responseId,
        survey_id: survey.id,
        session_id: env.sessionId() || '',
        visitor_id: env.visitorId() || '',
        ts: Date.now(),
        url: env.strip(w.location.href),
        state: status,
      };
      if (answers) body.answers = answers;
      postJson(env.endpoint + '/survey', body, env.allowed);
      env.addEvent('sessionlens.survey', { survey_id: survey.id, response_id: responseId, state: status });
    };
    widget = openSurvey(survey, {
      doc: d,
      win: w,
      onShown: guarded(() => report('shown', null)),
      onFinish: guarded((status, answers) => {
        const now = store();
        now.write(withDone(now.read(), survey.id));
        report(status, answers);
      }),
      onClose: () => {
        widget = null;
      },
    });
  }

  function evaluateSurveys() {
    const href = w.location.href;
    if (href === lastHref) return;
    lastHref = href;
    if (shownThisPage) return;
    const rules = env.rules();
    const surveys = rules.surveys || [];
    if (!surveys.length) return;
    const state = store().read();
    const survey = mayInvite(state, Date.now(), rules.surveyEveryDays) ? pickSurvey(surveys, context(state.done)) : null;
    if (pending && pending.survey === survey) return; // the same survey still waits: its delay goes on
    cancelPending();
    if (survey) schedule(survey);
  }

  function syncFeedback() {
    const rules = env.rules();
    const settings = rules.feedback;
    if (!settings || !settings.enabled) {
      removeFeedback();
      return;
    }
    if (feedback && feedback.host.isConnected) return;
    feedback = showFeedback(settings, {
      doc: d,
      win: w,
      onSend: guarded((rating, comment, selector) => {
        const id = randomId();
        postJson(env.endpoint + '/feedback', {
          feedback_id: id,
          session_id: env.sessionId() || '',
          visitor_id: env.visitorId() || '',
          ts: Date.now(),
          url: env.strip(w.location.href),
          rating,
          comment,
          selector,
        }, env.allowed);
        env.addEvent('sessionlens.feedback', { feedback_id: id, rating });
      }),
    });
  }

  function removeFeedback() {
    if (feedback) feedback.remove();
    feedback = null;
  }

  /** Take everything away at once (opt-out, consent withdrawn, an excluded page). */
  function teardown() {
    cancelPending();
    if (widget) widget.close();
    widget = null;
    removeFeedback();
    lastHref = null;
  }

  return {
    sync: guarded(() => {
      if (!env.rules() || !env.allowed()) {
        teardown();
        return;
      }
      if (!d.body) {
        // deferred scripts run with a body; a script in <head> may not: try again once it is there
        d.addEventListener('DOMContentLoaded', guarded(() => env.allowed() && evaluateAndShow()), { once: true });
        return;
      }
      evaluateAndShow();
    }),
    teardown: guarded(teardown),
  };

  function evaluateAndShow() {
    syncFeedback();
    evaluateSurveys();
  }
}
