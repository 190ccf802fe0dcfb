// Oversize snapshots: large inline assets are replaced by placeholders before a
// full snapshot or a mutation is sent, so a page with a 20 MB inline image keeps
// its recording (the server caps a batch at 10 MB and trims again what is over
// its per-event limit: sessionlens/ingest/trim.py holds the same rules).
//
// - a data: URL over INLINE_LIMIT in src, href, srcset, poster becomes a 1x1
//   transparent GIF (rrweb's rebuild sets it like any URL; the image keeps its box);
// - a data: URL over INLINE_LIMIT inside CSS (_cssText, a style attribute, a
//   <style>'s text) becomes url(<the GIF>); CSS still over CSS_LIMIT becomes '';
// - any other attribute over ATTR_LIMIT becomes ''.
// A trimmed element gets data-sl-trimmed (characters removed).

export const PLACEHOLDER_IMAGE = 'data:image/gif;base64,R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7';
export const TRIMMED_ATTRIBUTE = 'data-sl-trimmed';
export const TRIMMED_TAG = 'sessionlens.trimmed';
export const INLINE_LIMIT = 64 * 1024;
export const ATTR_LIMIT = 256 * 1024;
export const CSS_LIMIT = 1024 * 1024;
const URL_ATTRIBUTES = { src: true, href: true, srcset: true, poster: true, 'xlink:href': true };
const CSS_ATTRIBUTES = { _cssText: true, style: true };
const CSS_DATA_URL = /url\(\s*(["']?)data:[^)"']*\1\s*\)/gi;
const FULL_SNAPSHOT = 2;
const INCREMENTAL = 3;
const MUTATION = 0;

function css(value, count) {
  let out = value;
  if (out.length > INLINE_LIMIT && out.indexOf('data:') >= 0) {
    out = out.replace(CSS_DATA_URL, (match) => {
      if (match.length <= INLINE_LIMIT) return match;
      count.assets++;
      return 'url("' + PLACEHOLDER_IMAGE + '")';
    });
  }
  if (out.length > CSS_LIMIT) {
    count.assets++;
    return '';
  }
  return out;
}

/** The attribute value to keep (the same string when nothing is trimmed). */
export function trimValue(name, value, count) {
  if (typeof value !== 'string' || value.length <= INLINE_LIMIT) return value;
  const before = count.assets;
  let out = value;
  if (URL_ATTRIBUTES[name] && value.slice(0, 5).toLowerCase() === 'data:') {
    count.assets++;
    out = PLACEHOLDER_IMAGE;
  } else if (CSS_ATTRIBUTES[name]) {
    out = css(value, count);
  } else if (value.length > ATTR_LIMIT) {
    count.assets++;
    out = '';
  }
  if (count.assets === before) return value;
  count.bytes += value.length - out.length;
  return out;
}

function attributes(attrs, count) {
  let removed = 0;
  for (const name of Object.keys(attrs)) {
    const value = attrs[name];
    if (typeof value !== 'string' || value.length <= INLINE_LIMIT) continue;
    const out = trimValue(name, value, count);
    if (out !== value) {
      attrs[name] = out;
      removed += value.length - out.length;
    }
  }
  if (removed) attrs[TRIMMED_ATTRIBUTE] = String(removed);
}

function node(root, count) {
  const stack = [root];
  while (stack.length) {
    const current = stack.pop();
    if (!current || typeof current !== 'object') continue;
    if (current.attributes && typeof current.attributes === 'object') attributes(current.attributes, count);
    const text = current.textContent;
    if (current.isStyle && typeof text === 'string' && text.length > INLINE_LIMIT) {
      const out = css(text, count);
      if (out !== text) {
        count.bytes += text.length - out.length;
        current.textContent = out;
      }
    }
    if (Array.isArray(current.childNodes)) for (const child of current.childNodes) stack.push(child);
  }
}

/** Trim a full snapshot or a DOM mutation in place; returns {assets, bytes} removed. */
export function trimEvent(event) {
  const count = { assets: 0, bytes: 0 };
  const data = event && event.data;
  if (!data || typeof data !== 'object') return count;
  if (event.type === FULL_SNAPSHOT) node(data.node, count);
  else if (event.type === INCREMENTAL && data.source === MUTATION) {
    for (const add of data.adds || []) if (add) node(add.node, count);
    for (const change of data.attributes || []) {
      if (change && change.attributes && typeof change.attributes === 'object') attributes(change.attributes, count);
    }
  }
  return count;
}

/** The custom event that follows a trimmed one. */
export function trimmedEvent(timestamp, count) {
  return { type: 5, timestamp, data: { tag: TRIMMED_TAG, payload: { assets: count.assets, bytes: count.bytes } } };
}
