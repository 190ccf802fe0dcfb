// Facts about the page for each batch's `meta`, and SPA navigation.

function timezone() {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || '';
  } catch (_) {
    return '';
  }
}

/** The `meta` object of a batch (docs/ingest-protocol.md). */
export function pageMeta() {
  return {
    url: location.href,
    referrer: document.referrer || '',
    title: document.title || '',
    viewport: { width: window.innerWidth || 0, height: window.innerHeight || 0 },
    screen: { width: (screen && screen.width) || 0, height: (screen && screen.height) || 0 },
    language: navigator.language || '',
    timezone: timezone(),
  };
}

/**
 * Call `onChange(href)` when history.pushState/replaceState, popstate or
 * hashchange change the location. Wrappers stay installed (others may have
 * wrapped history after us); they only act while `isActive()` is true.
 */
export function watchNavigation(onChange, isActive) {
  let last = location.href;
  const check = () => {
    try {
      if (!isActive() || location.href === last) return;
      last = location.href;
      onChange(last);
    } catch (_) {
      // never break the page's navigation
    }
  };
  for (const name of ['pushState', 'replaceState']) {
    const original = history[name];
    if (typeof original !== 'function') continue;
    history[name] = function () {
      const result = original.apply(this, arguments);
      check();
      return result;
    };
  }
  window.addEventListener('popstate', check);
  window.addEventListener('hashchange', check);
}
