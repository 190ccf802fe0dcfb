// The survey widget (docs/surveys.md, "The widget's rules"): a host element with an
// open shadow root (page CSS stays out, rrweb records it), a non-modal dialog with one
// question per step. It knows nothing of storage or the network: the caller gets
// onShown / onFinish and decides (the recorder sends, the console's preview does not).
//
// Hooks (tests): host #sessionlens-survey[data-survey-id]; in its shadow root .sl-dialog,
// .sl-next, .sl-back, .sl-submit, .sl-close, .sl-open (small screens' bar), .sl-thanks,
// .sl-error, .sl-progress.

import { answerFrom, missingRequired, shapeAnswers } from './answers.js';
import { cleanTexts } from './definition.js';
import { announce, el, focusable, focusKeeper, pageBusy, shadowHost } from './dom.js';
import { SURVEY_CSS, themeVars } from './styles.js';
import { isSmallScreen } from './targeting.js';

export const HOST_ID = 'sessionlens-survey';
export const THANKS_DEFAULT = 'Thank you for your answers.';
export const THANKS_CLOSE_MS = 4000;

function inputsOf(fieldset, question) {
  if (question.kind === 'text') {
    const area = fieldset.querySelector('textarea');
    return area ? area.value : '';
  }
  const out = [];
  for (const input of fieldset.querySelectorAll('input')) if (input.checked) out.push(input.value);
  return out;
}

function choiceRow(doc, type, name, value, label, checked) {
  const row = el(doc, 'label', { class: 'sl-choice' });
  const input = el(doc, 'input', { type, name, value });
  input.checked = !!checked;
  row.appendChild(input);
  row.appendChild(el(doc, 'span', null, label));
  return row;
}

function questionFieldset(doc, question, index, answer, words) {
  const legendId = 'sl-q-' + index;
  const fieldset = el(doc, 'fieldset', { 'data-question': question.id });
  const legend = el(doc, 'legend', { id: legendId, tabindex: '-1' }, question.text);
  if (question.required) legend.appendChild(el(doc, 'span', { class: 'sl-req' }, ' ' + words.required_mark));
  fieldset.appendChild(legend);
  const name = 'sl-' + question.id;
  if (question.kind === 'single' || question.kind === 'multiple') {
    const type = question.kind === 'single' ? 'radio' : 'checkbox';
    if (question.kind === 'multiple') fieldset.appendChild(el(doc, 'p', { class: 'sl-label' }, words.choose_any));
    for (const choice of question.choices) {
      const checked = question.kind === 'single' ? answer === choice : Array.isArray(answer) && answer.indexOf(choice) >= 0;
      fieldset.appendChild(choiceRow(doc, type, name, choice, choice, checked));
    }
  } else if (question.kind === 'rating' || question.kind === 'nps') {
    const [lo, hi] = question.kind === 'rating' ? [1, 5] : [0, 10];
    const ends = question.kind === 'rating' ? [words.rating_low, words.rating_high] : [words.nps_low, words.nps_high];
    const endsId = 'sl-ends-' + index;
    fieldset.setAttribute('aria-describedby', endsId);
    const scale = el(doc, 'div', { class: 'sl-scale' });
    for (let n = lo; n <= hi; n++) scale.appendChild(choiceRow(doc, 'radio', name, String(n), String(n), answer === n));
    fieldset.appendChild(scale);
    const endRow = el(doc, 'div', { class: 'sl-ends', id: endsId });
    endRow.appendChild(el(doc, 'span', null, lo + ' = ' + ends[0]));
    endRow.appendChild(el(doc, 'span', null, hi + ' = ' + ends[1]));
    fieldset.appendChild(endRow);
  } else {
    const areaId = 'sl-text-' + index;
    fieldset.appendChild(el(doc, 'label', { class: 'sl-label', for: areaId }, words.your_answer));
    const area = el(doc, 'textarea', { id: areaId, maxlength: '2000', rows: '3', 'aria-describedby': legendId });
    area.value = typeof answer === 'string' ? answer : '';
    fieldset.appendChild(area);
  }
  return { fieldset, legend };
}

/**
 * Open `survey` (a cleaned definition, definition.js). `options`: {doc, win, small
 * (true / false forces the layout; otherwise from the viewport), onShown(), onFinish(state,
 * answers) with state 'answered' or 'dismissed', onClose() once it is gone}. Returns {host,
 * close()} (close() removes it without calling onFinish), or null when it cannot be shown.
 */
export function openSurvey(survey, options) {
  const o = options || {};
  const doc = o.doc || document;
  const win = o.win || window;
  if (!doc.body || doc.getElementById(HOST_ID)) return null;
  const small = typeof o.small === 'boolean' ? o.small : isSmallScreen(win.innerWidth || 0, win.innerHeight || 0);
  const questions = survey.questions;
  const words = cleanTexts(survey.texts);
  const answers = {};
  let step = 0;
  let phase = small ? 'bar' : 'open'; // bar -> open -> thanks -> closed
  let current = null; // {question, fieldset}
  let thanksTimer = 0;

  const { host, root } = shadowHost(doc, HOST_ID, SURVEY_CSS);
  host.setAttribute('data-survey-id', String(survey.id));
  host.setAttribute('data-position', survey.theme.position);
  if (small) host.setAttribute('data-small', '');
  const position = survey.theme.position === 'bottom-left' ? 'sl-left' : 'sl-right';
  const wrap = el(doc, 'div', { class: 'sl-root ' + position + (small ? ' sl-small' : ''), style: themeVars(survey.theme.color) });
  const live = el(doc, 'div', { class: 'sl-sr', 'aria-live': 'polite' });
  wrap.appendChild(live);
  root.appendChild(wrap);
  const keeper = focusKeeper(doc, host);

  let dialog = null;
  let heading = null;
  let body = null;
  let error = null;
  let foot = null;
  let bar = null;

  function closeButton() {
    const button = el(doc, 'button', { type: 'button', class: 'sl-close sl-x', 'aria-label': words.close }, '\u00d7');
    button.addEventListener('click', () => finish('dismissed'));
    return button;
  }

  function buildBar() {
    bar = el(doc, 'div', { class: 'sl-bar', role: 'region', 'aria-label': words.invitation });
    bar.appendChild(el(doc, 'span', { class: 'sl-bar-text' }, words.invitation));
    const open = el(doc, 'button', { type: 'button', class: 'sl-open sl-primary' }, words.open);
    open.addEventListener('click', () => openDialog(true));
    bar.appendChild(open);
    bar.appendChild(closeButton());
    wrap.appendChild(bar);
    return open;
  }

  function buildDialog() {
    dialog = el(doc, 'div', { class: 'sl-dialog', role: 'dialog', 'aria-labelledby': 'sl-title' });
    const head = el(doc, 'div', { class: 'sl-head' });
    heading = el(doc, 'h2', { id: 'sl-title', tabindex: '-1' }, words.title);
    head.appendChild(heading);
    head.appendChild(closeButton());
    dialog.appendChild(head);
    if (survey.intro) {
      dialog.setAttribute('aria-describedby', 'sl-intro');
      dialog.appendChild(el(doc, 'p', { id: 'sl-intro', class: 'sl-intro' }, survey.intro));
    }
    body = el(doc, 'div', { class: 'sl-body' });
    error = el(doc, 'p', { class: 'sl-error', role: 'alert' });
    foot = el(doc, 'div', { class: 'sl-foot' });
    dialog.appendChild(body);
    dialog.appendChild(error);
    dialog.appendChild(foot);
    // An answer given clears the message about a missing one.
    body.addEventListener('change', () => {
      error.textContent = '';
    });
    wrap.appendChild(dialog);
  }

  function keep() {
    if (current) answers[current.question.id] = answerFrom(current.question, inputsOf(current.fieldset, current.question));
  }

  function renderStep(moveFocus) {
    const question = questions[step];
    const { fieldset, legend } = questionFieldset(doc, question, step, answers[question.id], words);
    body.textContent = '';
    body.appendChild(fieldset);
    current = { question, fieldset };
    error.textContent = '';
    foot.textContent = '';
    foot.appendChild(el(doc, 'span', { class: 'sl-progress' }, (step + 1) + ' ' + words.of + ' ' + questions.length));
    if (step > 0) {
      const back = el(doc, 'button', { type: 'button', class: 'sl-back' }, words.back);
      back.addEventListener('click', () => go(-1));
      foot.appendChild(back);
    }
    const last = step === questions.length - 1;
    const next = el(doc, 'button', { type: 'button', class: (last ? 'sl-submit' : 'sl-next') + ' sl-primary' }, last ? words.submit : words.next);
    next.addEventListener('click', () => go(1));
    foot.appendChild(next);
    if (moveFocus) focusable(legend);
  }

  function go(delta) {
    if (phase !== 'open') return;
    keep();
    const question = questions[step];
    if (delta > 0 && missingRequired(question, answers[question.id])) {
      error.textContent = words.required;
      return;
    }
    if (delta > 0 && step === questions.length - 1) {
      finish('answered');
      return;
    }
    step = Math.max(0, Math.min(questions.length - 1, step + delta));
    renderStep(true);
  }

  function openDialog(moveFocus) {
    if (bar) {
      bar.remove();
      bar = null;
    }
    phase = 'open';
    buildDialog();
    renderStep(false);
    if (moveFocus) focusable(heading);
  }

  function showThanks() {
    const hadFocus = keeper.inside();
    body.textContent = '';
    foot.textContent = '';
    error.textContent = '';
    const intro = dialog.querySelector('.sl-intro');
    if (intro) intro.remove();
    dialog.removeAttribute('aria-describedby');
    const thanks = el(doc, 'p', { class: 'sl-thanks', id: 'sl-thanks', tabindex: '-1' }, survey.thanks || THANKS_DEFAULT);
    body.appendChild(thanks);
    dialog.setAttribute('aria-describedby', 'sl-thanks');
    if (hadFocus) focusable(thanks);
    announce(live, thanks.textContent);
    thanksTimer = setTimeout(() => remove(), THANKS_CLOSE_MS);
  }

  function remove() {
    if (phase === 'closed') return;
    phase = 'closed';
    clearTimeout(thanksTimer);
    keeper.restore();
    host.remove();
    safeCall(o.onClose);
  }

  function finish(state) {
    if (phase === 'thanks') {
      remove();
      return;
    }
    if (phase === 'closed') return;
    keep();
    const shaped = shapeAnswers(questions, answers);
    if (state === 'answered') {
      phase = 'thanks';
      safeCall(o.onFinish, 'answered', shaped);
      showThanks();
    } else {
      safeCall(o.onFinish, 'dismissed', shaped);
      remove();
    }
  }

  host.addEventListener('keydown', (event) => {
    if (event.key === 'Escape' || event.key === 'Esc') {
      event.stopPropagation();
      finish('dismissed');
    }
  });

  const busy = pageBusy(doc);
  let first;
  if (phase === 'bar') first = buildBar();
  else {
    buildDialog();
    renderStep(false);
    first = heading;
  }
  doc.body.appendChild(host);
  if (!busy) focusable(first);
  announce(live, small
    ? 'A short survey is available at the bottom of the page.'
    : 'A short survey opened at the bottom of the page' + (survey.intro ? ': ' + survey.intro : '.'));
  safeCall(o.onShown);

  return {
    host,
    small,
    close() {
      remove();
    },
  };
}

function safeCall(fn, a, b) {
  try {
    if (typeof fn === 'function') fn(a, b);
  } catch (_) {
    // the caller's trouble stays out of the page
  }
}
