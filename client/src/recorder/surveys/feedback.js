// The feedback button (docs/surveys.md): a tab at the edge of the page opening a
// non-modal panel with a 1-5 rating, an optional comment and "Highlight an element"
// (pick mode: an outline follows the pointer, a click picks; Tab / Shift+Tab move it
// over the page's focusable elements and Enter picks; Escape cancels). Like the widget
// it knows nothing of the network: onSend(rating, comment, selector) does that.
//
// Hooks (tests): host #sessionlens-feedback; in its shadow root .sl-fb-tab, .sl-fb-panel,
// .sl-fb-send, .sl-fb-pick, .sl-fb-comment, .sl-fb-selector, .sl-fb-remove, .sl-fb-overlay,
// .sl-thanks, .sl-error, .sl-close, input[name=rating][value=N].

import { selectorFor } from '../interactions.js';
import { cleanFeedbackTexts } from './definition.js';
import { announce, el, focusable, focusKeeper, shadowHost } from './dom.js';
import { FEEDBACK_CSS, themeVars } from './styles.js';

export const FEEDBACK_HOST_ID = 'sessionlens-feedback';
export const FEEDBACK_THANKS_MS = 2500;
const SURVEY_HOST_ID = 'sessionlens-survey';
const FOCUSABLE = 'a[href],button,input:not([type=hidden]),select,textarea,summary,[tabindex],[contenteditable=""],[contenteditable=true]';
const BLOCKED_WHILE_PICKING = ['pointerdown', 'pointerup', 'mousedown', 'mouseup', 'click', 'dblclick', 'auxclick', 'contextmenu', 'touchstart', 'touchend'];

function ours(node) {
  return !!node && node.nodeType === 1 && (node.id === FEEDBACK_HOST_ID || node.id === SURVEY_HOST_ID);
}

function pickable(node) {
  if (!node || node.nodeType !== 1) return false;
  const tag = node.tagName.toLowerCase();
  return tag !== 'html' && tag !== 'body' && !ours(node) && !(node.closest && node.closest('#' + FEEDBACK_HOST_ID + ',#' + SURVEY_HOST_ID));
}

function visible(node) {
  try {
    if (node.disabled) return false;
    if (node.getAttribute('tabindex') === '-1') return false;
    const box = node.getBoundingClientRect();
    return box.width > 0 && box.height > 0;
  } catch (_) {
    return false;
  }
}

/**
 * Show the feedback tab. `settings`: cleaned feedback settings (definition.js);
 * `options`: {doc, win, onSend(rating, comment, selector)}. Returns {host, remove()}.
 */
export function showFeedback(settings, options) {
  const o = options || {};
  const doc = o.doc || document;
  const win = o.win || window;
  if (!doc.body || doc.getElementById(FEEDBACK_HOST_ID)) return null;
  const words = cleanFeedbackTexts(settings.texts);
  const { host, root } = shadowHost(doc, FEEDBACK_HOST_ID, FEEDBACK_CSS);
  host.setAttribute('data-position', settings.position);
  const side = settings.position === 'left' ? 'sl-left' : settings.position === 'bottom-right' ? 'sl-bottom-right' : 'sl-right';
  const wrap = el(doc, 'div', { class: 'sl-root ' + side, style: themeVars(settings.color) });
  const live = el(doc, 'div', { class: 'sl-sr', 'aria-live': 'polite' });
  wrap.appendChild(live);
  root.appendChild(wrap);
  const keeper = focusKeeper(doc, host);

  const tab = el(doc, 'button', { type: 'button', class: 'sl-fb-tab', 'aria-expanded': 'false', 'aria-haspopup': 'dialog' }, settings.label);
  wrap.appendChild(tab);

  let panel = null;
  let parts = null; // the open panel's elements
  let selector = '';
  let picking = null; // {overlay, hint, current, index, listeners}
  let thanksTimer = 0;
  let removed = false;

  function ratingGroup() {
    const fieldset = el(doc, 'fieldset');
    fieldset.appendChild(el(doc, 'legend', { id: 'sl-fb-rating' }, words.question));
    const scale = el(doc, 'div', { class: 'sl-scale' });
    [words.rating_1, words.rating_2, words.rating_3, words.rating_4, words.rating_5].forEach((label, i) => {
      const row = el(doc, 'label', { class: 'sl-choice' });
      row.appendChild(el(doc, 'input', { type: 'radio', name: 'rating', value: String(i + 1) }));
      row.appendChild(el(doc, 'span', null, label));
      scale.appendChild(row);
    });
    fieldset.appendChild(scale);
    return fieldset;
  }

  function showSelector() {
    const box = parts.selected;
    box.textContent = '';
    if (!selector) {
      box.hidden = true;
      return;
    }
    box.hidden = false;
    box.appendChild(el(doc, 'span', null, words.picked));
    box.appendChild(el(doc, 'code', { class: 'sl-fb-selector' }, selector));
    const removeButton = el(doc, 'button', { type: 'button', class: 'sl-fb-remove' }, words.remove);
    removeButton.addEventListener('click', () => {
      selector = '';
      showSelector();
      focusable(parts.pick);
    });
    box.appendChild(removeButton);
  }

  function openPanel() {
    if (panel) {
      focusable(parts.heading);
      return;
    }
    panel = el(doc, 'div', { class: 'sl-fb-panel', role: 'dialog', 'aria-labelledby': 'sl-fb-title' });
    const head = el(doc, 'div', { class: 'sl-head' });
    const heading = el(doc, 'h2', { id: 'sl-fb-title', tabindex: '-1' }, words.title);
    head.appendChild(heading);
    const close = el(doc, 'button', { type: 'button', class: 'sl-close sl-x', 'aria-label': words.close }, '\u00d7');
    close.addEventListener('click', () => closePanel());
    head.appendChild(close);
    panel.appendChild(head);
    const form = el(doc, 'div', { class: 'sl-fb-form' });
    form.appendChild(ratingGroup());
    const commentRow = el(doc, 'div', { class: 'sl-fb-row' });
    commentRow.appendChild(el(doc, 'label', { class: 'sl-label', for: 'sl-fb-comment' }, words.comment));
    const comment = el(doc, 'textarea', { id: 'sl-fb-comment', class: 'sl-fb-comment', maxlength: '2000', rows: '3' });
    commentRow.appendChild(comment);
    form.appendChild(commentRow);
    const pickRow = el(doc, 'div', { class: 'sl-fb-row' });
    const pick = el(doc, 'button', { type: 'button', class: 'sl-fb-pick' }, words.pick);
    pick.addEventListener('click', () => startPicking());
    pickRow.appendChild(pick);
    const selected = el(doc, 'div', { class: 'sl-fb-selected' });
    pickRow.appendChild(selected);
    form.appendChild(pickRow);
    const error = el(doc, 'p', { class: 'sl-error', role: 'alert' });
    form.appendChild(error);
    form.addEventListener('change', () => {
      error.textContent = '';
    });
    const foot = el(doc, 'div', { class: 'sl-foot' });
    foot.appendChild(el(doc, 'span', { class: 'sl-progress' }));
    const send = el(doc, 'button', { type: 'button', class: 'sl-fb-send sl-primary' }, words.send);
    send.addEventListener('click', () => submit());
    foot.appendChild(send);
    form.appendChild(foot);
    panel.appendChild(form);
    wrap.appendChild(panel);
    parts = { heading, comment, pick, selected, error, form };
    showSelector();
    tab.setAttribute('aria-expanded', 'true');
    focusable(heading);
  }

  function closePanel() {
    stopPicking(false);
    clearTimeout(thanksTimer);
    if (!panel) return;
    const hadFocus = keeper.inside();
    panel.remove();
    panel = null;
    parts = null;
    selector = '';
    tab.setAttribute('aria-expanded', 'false');
    if (hadFocus) focusable(tab);
  }

  function submit() {
    const checked = parts.form.querySelector('input[name=rating]:checked');
    const rating = checked ? Number(checked.value) : 0;
    if (!(rating >= 1 && rating <= 5)) {
      parts.error.textContent = words.required;
      return;
    }
    const comment = parts.comment.value.slice(0, 2000);
    try {
      if (typeof o.onSend === 'function') o.onSend(rating, comment, selector);
    } catch (_) {
      // the caller's trouble stays out of the page
    }
    const hadFocus = keeper.inside();
    parts.form.textContent = '';
    const thanks = el(doc, 'p', { class: 'sl-thanks', tabindex: '-1' }, words.thanks);
    parts.form.appendChild(thanks);
    if (hadFocus) focusable(thanks);
    announce(live, thanks.textContent);
    thanksTimer = setTimeout(() => closePanel(), FEEDBACK_THANKS_MS);
  }

  // ---- pick mode ----

  function outline(node) {
    if (!picking) return;
    picking.current = node;
    const overlay = picking.overlay;
    if (!node) {
      overlay.hidden = true;
      return;
    }
    const box = node.getBoundingClientRect();
    overlay.hidden = false;
    overlay.style.left = box.left - 2 + 'px';
    overlay.style.top = box.top - 2 + 'px';
    overlay.style.width = box.width + 4 + 'px';
    overlay.style.height = box.height + 4 + 'px';
  }

  function pageFocusables() {
    const out = [];
    for (const node of doc.querySelectorAll(FOCUSABLE)) {
      if (pickable(node) && visible(node)) out.push(node);
      if (out.length >= 2000) break;
    }
    return out;
  }

  function startPicking() {
    if (picking || !panel) return;
    panel.hidden = true;
    const overlay = el(doc, 'div', { class: 'sl-fb-overlay', hidden: true });
    const hint = el(doc, 'div', { class: 'sl-fb-hint' },
      words.pick_hint);
    wrap.appendChild(overlay);
    wrap.appendChild(hint);
    picking = { overlay, hint, current: null, index: -1, listeners: [] };
    // Not passive: a touch picks on touchend, whose default (the click after it) is cancelled.
    const how = { capture: true, passive: false };
    const listen = (target, type, fn) => {
      const wrapped = (event) => {
        try {
          fn(event);
        } catch (_) {
          // never into the page
        }
      };
      target.addEventListener(type, wrapped, how);
      picking.listeners.push([target, type, wrapped]);
    };
    const targetOf = (event) => {
      const path = typeof event.composedPath === 'function' ? event.composedPath() : [];
      return path.length && path[0].nodeType === 1 ? path[0] : event.target;
    };
    listen(doc, 'mouseover', (event) => {
      const node = targetOf(event);
      outline(pickable(node) ? node : null);
    });
    for (const type of BLOCKED_WHILE_PICKING) {
      listen(win, type, (event) => {
        const node = targetOf(event);
        if (ours(event.target)) return;
        event.preventDefault();
        event.stopPropagation();
        if (typeof event.stopImmediatePropagation === 'function') event.stopImmediatePropagation();
        if ((type === 'click' || type === 'touchend') && pickable(node)) finishPicking(node);
      });
    }
    listen(win, 'keydown', (event) => {
      if (event.key === 'Escape' || event.key === 'Esc') {
        event.preventDefault();
        event.stopPropagation();
        stopPicking(true);
      } else if (event.key === 'Tab') {
        event.preventDefault();
        event.stopPropagation();
        const list = pageFocusables();
        if (!list.length) return;
        let index = picking.current ? list.indexOf(picking.current) : -1;
        if (index < 0) index = event.shiftKey ? list.length : -1;
        index = (index + (event.shiftKey ? -1 : 1) + list.length) % list.length;
        const node = list[index];
        try {
          node.scrollIntoView({ block: 'nearest', inline: 'nearest' });
        } catch (_) {
          // old browsers: no options
        }
        outline(node);
        live.textContent = words.picked + ' ' + selectorFor(node);
      } else if (event.key === 'Enter' && picking.current) {
        event.preventDefault();
        event.stopPropagation();
        finishPicking(picking.current);
      }
    });
    const blurInside = root.activeElement;
    if (blurInside && blurInside.blur) blurInside.blur();
    announce(live, words.pick_hint);
  }

  function stopPicking(back) {
    if (!picking) return;
    for (const [target, type, fn] of picking.listeners) target.removeEventListener(type, fn, { capture: true });
    picking.overlay.remove();
    picking.hint.remove();
    picking = null;
    if (panel) {
      panel.hidden = false;
      if (back) focusable(parts.pick);
    }
  }

  function finishPicking(node) {
    let picked = '';
    try {
      picked = selectorFor(node).slice(0, 1000);
    } catch (_) {
      picked = '';
    }
    stopPicking(false);
    if (!panel) return;
    selector = picked;
    showSelector();
    const removeButton = parts.selected.querySelector('.sl-fb-remove');
    focusable(removeButton || parts.pick);
    announce(live, selector ? words.picked + ' ' + selector : '');
  }

  tab.addEventListener('click', () => (panel ? closePanel() : openPanel()));
  host.addEventListener('keydown', (event) => {
    if ((event.key === 'Escape' || event.key === 'Esc') && panel && !picking) {
      event.stopPropagation();
      closePanel();
    }
  });
  doc.body.appendChild(host);

  return {
    host,
    remove() {
      if (removed) return;
      removed = true;
      stopPicking(false);
      clearTimeout(thanksTimer);
      keeper.restore();
      host.remove();
    },
  };
}
