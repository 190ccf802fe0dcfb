// Facts about the page for each batch's `meta`, SPA navigation, and the pages
// that are never recorded.

function timezone() {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || '';
  } catch (_) {
    return '';
  }
}

/**
 * The `meta` object of a batch (docs/ingest-protocol.md). `href` is the page
 * the events were recorded on (not necessarily location.href: a batch formed
 * after an SPA navigation into an excluded page still belongs to the page
 * before), `strip` removes denied URL parameters, `maskTitle` masks the title
 * (mask_all_text).
 */
export function pageMeta(href, strip, maskTitle) {
  const title = document.title || '';
  return {
    url: strip(href),
    referrer: strip(document.referrer || ''),
    title: maskTitle ? title.replace(/\S/g, '*') : title,
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

const compiled = new Map();

function patternRegExp(pattern) {
  let re = compiled.get(pattern);
  if (!re) {
    const body = pattern.split('*').map((piece) => piece.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*');
    re = new RegExp('^' + body + '$');
    compiled.set(pattern, re);
  }
  return re;
}

/**
 * Whether a page is one to record (recording rules): every page when there are no
 * patterns, else those matching one (the same matching as pageExcluded).
 */
export function pageRecorded(patterns, pathname, search) {
  const usable = (patterns || []).filter((p) => typeof p === 'string' && p.charAt(0) === '/');
  return !usable.length || pageExcluded(usable, pathname, search);
}

/**
 * Whether a page is excluded: a pattern starts with "/", "*" matches anything
 * (slashes too), and the whole path must match; a pattern holding "?" is
 * matched against path + query.
 */
export function pageExcluded(patterns, pathname, search) {
  for (const pattern of patterns || []) {
    if (typeof pattern !== 'string' || pattern.charAt(0) !== '/') continue;
    const target = pattern.indexOf('?') >= 0 ? pathname + (search || '') : pathname;
    if (patternRegExp(pattern).test(target)) return true;
  }
  return false;
}
