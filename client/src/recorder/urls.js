// URLs as recorded: denylisted query parameters stripped. Pure functions; the
// rules mirror the server's sessionlens.privacy.param_denied / strip_url.

// Attributes whose whole value is one URL (rrweb keeps an iframe's src as rr_src).
const URL_ATTRIBUTES = [
  'href', 'src', 'action', 'formaction', 'poster', 'cite', 'background', 'data',
  'xlink:href', 'longdesc', 'manifest', 'codebase', 'rr_src',
];
// Split a parameter name into parts: at _ - . [ ] and where lower case or a
// digit meets upper case ("auth_token", "userEmail"). No look-behind: older
// Safari cannot parse it and the whole script would fail.
const CASE_CHANGE = /([a-z0-9])(?=[A-Z])/g;
const SEPARATORS = /[\u0000_\-.[\]]+/;
const CSS_URL = /url\(\s*(['"]?)([^'")]*)\1\s*\)/gi;

function decodeName(pair) {
  const name = pair.split('=')[0].replace(/\+/g, ' ');
  try {
    return decodeURIComponent(name);
  } catch (_) {
    return name;
  }
}

/**
 * Whether a query parameter is denied: its whole name or any part of it, lower
 * cased, is in `denylist` (a Set of lower-case names).
 */
export function paramDenied(name, denylist) {
  if (!name) return false;
  if (denylist.has(name.toLowerCase())) return true;
  const parts = name.replace(CASE_CHANGE, '$1\u0000').split(SEPARATORS);
  for (const part of parts) {
    if (part && denylist.has(part.toLowerCase())) return true;
  }
  return false;
}

// A fragment such as "#access_token=..&state=1" or "#/cb?token=..".
function fragmentDenied(fragment, denylist) {
  if (fragment.indexOf('=') < 0) return false;
  const pieces = fragment.replace(/^[!/?]+/, '').split(/[&?/;]/);
  return pieces.some((piece) => paramDenied(decodeName(piece), denylist));
}

/**
 * The URL without denied query parameters, and without its fragment when the
 * fragment holds a denied key=value. Works on absolute and relative URLs and
 * keeps the other parameters exactly as they were written.
 */
export function stripUrl(url, denylist) {
  if (typeof url !== 'string' || (url.indexOf('?') < 0 && url.indexOf('#') < 0)) return url;
  const hashAt = url.indexOf('#');
  let fragment = hashAt >= 0 ? url.slice(hashAt + 1) : null;
  const rest = hashAt >= 0 ? url.slice(0, hashAt) : url;
  const queryAt = rest.indexOf('?');
  let query = queryAt >= 0 ? rest.slice(queryAt + 1) : null;
  let changed = false;
  if (query !== null) {
    const pairs = query.split('&');
    const kept = pairs.filter((pair) => !paramDenied(decodeName(pair), denylist));
    if (kept.length !== pairs.length) {
      query = kept.join('&');
      changed = true;
    }
  }
  if (fragment !== null && fragmentDenied(fragment, denylist)) {
    fragment = null;
    changed = true;
  }
  if (!changed) return url;
  const base = queryAt >= 0 ? rest.slice(0, queryAt) : rest;
  return base + (query ? '?' + query : '') + (fragment !== null ? '#' + fragment : '');
}

/** srcset="a.png?token=x 1x, b.png 2x": each candidate's URL stripped. */
export function stripSrcset(value, denylist) {
  if (typeof value !== 'string' || (value.indexOf('?') < 0 && value.indexOf('#') < 0)) return value;
  const out = [];
  let i = 0;
  while (i < value.length) {
    while (i < value.length && /[\s,]/.test(value[i])) i++;
    if (i >= value.length) break;
    let end = i;
    while (end < value.length && !/\s/.test(value[end])) end++;
    let url = value.slice(i, end);
    let descriptor = '';
    if (url.endsWith(',')) {
      url = url.replace(/,+$/, '');
    } else {
      const comma = value.indexOf(',', end);
      descriptor = value.slice(end, comma < 0 ? value.length : comma).trim();
      end = comma < 0 ? value.length : comma;
    }
    out.push(stripUrl(url, denylist) + (descriptor ? ' ' + descriptor : ''));
    i = end + 1;
  }
  return out.join(', ');
}

/** CSS text (style attributes, inlined stylesheets): every url(...) stripped. */
export function stripCssUrls(css, denylist) {
  if (typeof css !== 'string' || !/url\(/i.test(css)) return css;
  return css.replace(CSS_URL, (whole, quote, url) => {
    const clean = stripUrl(url, denylist);
    return clean === url ? whole : 'url(' + quote + clean + quote + ')';
  });
}

/** Strip the URLs of a serialized element's attributes (snapshot or mutation), in place. */
export function stripUrlAttributes(attrs, denylist) {
  if (!attrs) return;
  for (const name of URL_ATTRIBUTES) {
    if (typeof attrs[name] === 'string') attrs[name] = stripUrl(attrs[name], denylist);
  }
  if (typeof attrs.srcset === 'string') attrs.srcset = stripSrcset(attrs.srcset, denylist);
  if (typeof attrs.ping === 'string') {
    attrs.ping = attrs.ping.split(/\s+/).map((url) => stripUrl(url, denylist)).join(' ');
  }
  if (typeof attrs.style === 'string') attrs.style = stripCssUrls(attrs.style, denylist);
  else if (attrs.style && typeof attrs.style === 'object') {
    // A style mutation: {property: value | [value, priority] | false}.
    for (const key of Object.keys(attrs.style)) {
      const v = attrs.style[key];
      if (typeof v === 'string') attrs.style[key] = stripCssUrls(v, denylist);
      else if (Array.isArray(v) && typeof v[0] === 'string') v[0] = stripCssUrls(v[0], denylist);
    }
  }
  if (typeof attrs._cssText === 'string') attrs._cssText = stripCssUrls(attrs._cssText, denylist);
}

const TEXT_URL = /\b[a-z][a-z0-9+.-]*:\/\/[^\s()<>"'`]+/gi;

/** Free text (an error message, a stack): every absolute URL in it stripped. */
export function stripTextUrls(text, denylist) {
  if (typeof text !== 'string' || text.indexOf('://') < 0) return text;
  return text.replace(TEXT_URL, (url) => stripUrl(url, denylist));
}
