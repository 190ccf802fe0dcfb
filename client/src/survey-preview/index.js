// survey-preview.js: the console's survey preview. The page holds the definition being
// edited in <script type="application/json" id="survey-definition">, a button
// #survey-preview-show and optionally <select id="survey-preview-size"> (desktop / small).
// The button (re)opens the recorder's own widget (client/src/recorder/surveys/widget.js)
// in preview mode: no cookie, no storage, no network; Submit shows the thank-you.
// window.sessionlensSurveyPreview = {show(definition?, size?), close()} for the page's scripts.

import { cleanSurvey } from '../recorder/surveys/definition.js';
import { openSurvey } from '../recorder/surveys/widget.js';

let current = null;

function readDefinition() {
  const node = document.getElementById('survey-definition');
  if (!node) return null;
  try {
    return JSON.parse(node.textContent || 'null');
  } catch (_) {
    return null;
  }
}

function readSize() {
  const select = document.getElementById('survey-preview-size');
  return select ? select.value : '';
}

function close() {
  if (current) current.close();
  current = null;
}

/** Open the preview; returns whether it opened (false when the definition has no question that can be shown). */
function show(definition, size) {
  close();
  const raw = definition && typeof definition === 'object' ? definition : readDefinition();
  if (!raw || typeof raw !== 'object') return false;
  // The preview shows every question; the id only names the host element.
  const survey = cleanSurvey(Object.assign({}, raw, {
    id: typeof raw.id === 'number' && raw.id > 0 ? raw.id : 1,
    starts_ms: null,
    ends_ms: null,
  }));
  if (!survey) return false;
  const chosen = size || readSize();
  const small = chosen === 'small' ? true : chosen === 'desktop' ? false : undefined;
  current = openSurvey(survey, {
    small,
    onClose: () => {
      current = null;
    },
  });
  return !!current;
}

function start() {
  const button = document.getElementById('survey-preview-show');
  if (button) {
    button.addEventListener('click', (event) => {
      event.preventDefault();
      show();
    });
  }
  const select = document.getElementById('survey-preview-size');
  if (select) select.addEventListener('change', () => current && show());
}

window.sessionlensSurveyPreview = { show, close };
if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
else start();
