// Which survey, if any, this page view may show (docs/surveys.md, "The widget's rules").
// Pure functions: the caller passes the page, the device, the visitor and the clock.

import { pageExcluded } from '../page.js';
import { fnv1a32 } from '../sampling.js';

/** `mobile` below 768 px with a coarse pointer, `tablet` 768-1279 px with one, else `desktop`. */
export function deviceOf(width, coarsePointer) {
  if (!coarsePointer) return 'desktop';
  const w = typeof width === 'number' && Number.isFinite(width) ? width : 0;
  if (w < 768) return 'mobile';
  if (w < 1280) return 'tablet';
  return 'desktop';
}

/** Whether the visitor is in a survey's share: FNV-1a of `visitorId:surveyId` mod 10000 below share x 100. */
export function inShare(visitorId, surveyId, share) {
  const s = typeof share === 'number' && Number.isFinite(share) ? share : 100;
  return fnv1a32(String(visitorId) + ':' + String(surveyId)) % 10000 < Math.round(s * 100);
}

/** Whether `now` (ms) is within the survey's starts_ms / ends_ms (each optional, inclusive). */
export function inDates(survey, now) {
  if (survey.startsMs != null && now < survey.startsMs) return false;
  if (survey.endsMs != null && now > survey.endsMs) return false;
  return true;
}

/** Targeted pages: every page when there are no patterns, else the privacy rules' matching. */
export function pageTargeted(patterns, pathname, search) {
  const usable = (patterns || []).filter((p) => typeof p === 'string' && p.charAt(0) === '/');
  return !usable.length || pageExcluded(usable, pathname, search);
}

export function deviceTargeted(devices, device) {
  return !devices || !devices.length || devices.indexOf(device) >= 0;
}

export function visitorTargeted(visitors, returning) {
  if (visitors === 'new') return !returning;
  if (visitors === 'returning') return !!returning;
  return true;
}

/**
 * Why a survey is not for this page view ('' when it is). `ctx`: {pathname, search,
 * device, returning, visitorId, now, done (survey ids answered or dismissed)}.
 */
export function whyNot(survey, ctx) {
  if ((ctx.done || []).indexOf(survey.id) >= 0) return 'done';
  if (!inDates(survey, ctx.now)) return 'dates';
  if (!pageTargeted(survey.targeting.pages, ctx.pathname, ctx.search)) return 'page';
  if (!deviceTargeted(survey.targeting.devices, ctx.device)) return 'device';
  if (!visitorTargeted(survey.targeting.visitors, ctx.returning)) return 'visitor';
  if (!inShare(ctx.visitorId, survey.id, survey.targeting.share)) return 'share';
  return '';
}

/** The first survey in the config's order that this page view may show, or null. */
export function pickSurvey(surveys, ctx) {
  for (const survey of surveys || []) {
    if (!whyNot(survey, ctx)) return survey;
  }
  return null;
}

/**
 * When to show a survey: {kind: 'delay', ms} or {kind: 'exit'}. Exit intent needs a
 * pointer that can leave the window: with a coarse pointer it falls back to the delay
 * (at least 10 s when the delay is 0).
 */
export function triggerPlan(trigger, coarsePointer) {
  const seconds = trigger && typeof trigger.seconds === 'number' ? trigger.seconds : 0;
  if (trigger && trigger.kind === 'exit') {
    if (!coarsePointer) return { kind: 'exit' };
    return { kind: 'delay', ms: Math.max(seconds, 10) * 1000 };
  }
  return { kind: 'delay', ms: seconds * 1000 };
}

/** Exit intent: the pointer left the document through the top of the window. */
export function isExitIntent(event) {
  return !!event && !event.relatedTarget && typeof event.clientY === 'number' && event.clientY <= 0;
}

/** Small screens get the bar / bottom sheet: under 600 px wide or 500 px high. */
export function isSmallScreen(width, height) {
  return width < 600 || height < 500;
}
