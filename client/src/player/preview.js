// "What is recorded": outlines drawn over the replay, so a site owner sees which parts of
// their pages were masked or blocked before they left the visitor's browser. The rules go
// into the replay iframe as CSS (rrweb's insertStyleRules); no script runs in it.

const FIELDS = 'input, textarea, select, [contenteditable]';
const BLOCKED = '[data-sl-block], .rr-block, [rr_width]';
const MASKED = '[data-sl-mask], .rr-mask';

function selectorsFrom(container, name) {
  try {
    const list = JSON.parse(container.getAttribute(name) || '[]');
    return Array.isArray(list) ? list.filter((s) => typeof s === 'string' && s.trim()) : [];
  } catch (err) {
    return [];
  }
}

// A selector the browser cannot parse would drop the whole rule: keep only valid ones.
function valid(selector) {
  try {
    document.createDocumentFragment().querySelector(selector);
    return true;
  } catch (err) {
    return false;
  }
}

export function previewRules(container) {
  if (container.getAttribute('data-preview') !== '1') return [];
  const blocked = [BLOCKED, ...selectorsFrom(container, 'data-block-selectors')].filter(valid);
  const masked = [MASKED, ...selectorsFrom(container, 'data-mask-selectors')].filter(valid);
  const rules = [
    `${FIELDS} { outline: 2px solid #3b5bdb !important; outline-offset: 1px !important; }`,
    `${blocked.join(', ')} { outline: 2px dashed #c92a2a !important; outline-offset: -2px !important;` +
      ' background: repeating-linear-gradient(45deg, #fff5f5 0 6px, #ffe3e3 6px 12px) !important; }',
    `${masked.join(', ')} { outline: 2px dotted #f08c00 !important;` +
      ' background-color: rgba(255, 165, 0, 0.35) !important; }',
  ];
  if (container.getAttribute('data-mask-all-text') === '1') {
    rules.push('body { background-color: rgba(255, 165, 0, 0.12) !important; }');
  }
  return rules;
}
