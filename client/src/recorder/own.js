// The recorder's own widgets (the survey and the feedback button) live in shadow roots under
// these hosts. What visitors do inside them is not the page's activity: no click, struggle or
// form analytics come from them (their answers are stored as answers).

export const OWN_HOSTS = ['sessionlens-survey', 'sessionlens-feedback'];

/** Whether an event happened inside one of our widgets (`path`: event.composedPath()). */
export function insideOwnWidget(path) {
  for (const node of path || []) {
    if (node && node.nodeType === 1 && OWN_HOSTS.indexOf(node.id) >= 0) return true;
  }
  return false;
}
