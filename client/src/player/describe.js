// Describe a recorded element ("button#add-to-cart “Add to cart”") for the timeline.
//
// The replayer's mirror only knows the nodes of the page currently shown, so the
// serialized nodes are also tracked here, in recording order: every full snapshot
// starts a new map, mutations add nodes and change texts. Recorded text only ever
// leaves this module as a plain string (the caller sets it with textContent).

const ELEMENT = 2;
const TEXT = 3;
const SKIP = new Set(['script', 'style', 'noscript', 'template']);
const FIELDS = new Set(['input', 'textarea', 'select']);
const MAX_TEXT = 40;
const TARGETS = new Set(['a', 'button', 'label', 'summary', 'input', 'textarea', 'select']);

export function truncate(text, max = MAX_TEXT) {
  const clean = String(text || '').replace(/\s+/g, ' ').trim();
  return clean.length > max ? clean.slice(0, max - 1) + '…' : clean;
}

export class NodeMap {
  constructor() {
    this.nodes = new Map();
  }

  reset(root) {
    this.nodes = new Map();
    this.add(root, null);
  }

  add(node, parentId) {
    if (!node || typeof node.id !== 'number') return;
    const entry = { node, parentId, children: [] };
    this.nodes.set(node.id, entry);
    const parent = parentId === null ? null : this.nodes.get(parentId);
    if (parent) parent.children.push(node.id);
    if (Array.isArray(node.childNodes)) {
      for (const child of node.childNodes) this.add(child, node.id);
    }
  }

  /** Apply a mutation (incremental source 0): added nodes and changed texts. */
  mutate(data) {
    for (const add of data.adds || []) this.add(add.node, add.parentId);
    for (const change of data.texts || []) {
      const entry = this.nodes.get(change.id);
      if (entry && entry.node.type === TEXT) entry.node = { ...entry.node, textContent: change.value };
    }
  }

  text(id, budget = 200) {
    const entry = this.nodes.get(id);
    if (!entry) return '';
    const { node } = entry;
    if (node.type === TEXT) return String(node.textContent || '');
    if (node.type === ELEMENT && SKIP.has(String(node.tagName).toLowerCase())) return '';
    let out = '';
    const seen = new Set(node.childNodes ? node.childNodes.map((c) => c.id) : []);
    const ids = (node.childNodes || []).map((c) => c.id).concat(entry.children.filter((c) => !seen.has(c)));
    for (const child of ids) {
      if (out.length >= budget) break;
      out += ' ' + this.text(child, budget - out.length);
    }
    return out;
  }

  /** A click often lands on an icon or a span: name the link or button around it. */
  target(id) {
    let current = id;
    for (let depth = 0; depth < 6; depth++) {
      const entry = this.nodes.get(current);
      if (!entry || entry.node.type !== ELEMENT) break;
      const tag = String(entry.node.tagName || '').toLowerCase();
      const role = (entry.node.attributes || {}).role;
      if (TARGETS.has(tag) || role === 'button' || role === 'link') return current;
      if (entry.parentId === null) break;
      current = entry.parentId;
    }
    return id;
  }

  describe(clicked) {
    const id = this.target(clicked);
    const entry = this.nodes.get(id);
    if (!entry || entry.node.type !== ELEMENT) return null;
    const tag = String(entry.node.tagName || 'element').toLowerCase();
    const attrs = entry.node.attributes || {};
    // Form fields: name them by their label-like attributes, never by their value.
    const text = FIELDS.has(tag) ? '' : truncate(this.text(id));
    const label = FIELDS.has(tag) ? truncate(attrs['aria-label'] || attrs.placeholder || '') : '';
    return { selector: selector(tag, attrs), text: text || label, tag };
  }
}

function selector(tag, attrs) {
  if (typeof attrs.id === 'string' && attrs.id) return tag + '#' + truncate(attrs.id, 30);
  let out = tag;
  if (typeof attrs.name === 'string' && attrs.name && FIELDS.has(tag)) out += '[name=' + truncate(attrs.name, 30) + ']';
  if (typeof attrs.class === 'string' && attrs.class.trim()) {
    out += '.' + attrs.class.trim().split(/\s+/).slice(0, 2).join('.');
  }
  return truncate(out, 50);
}

/** Fallback: a node the replayer has rebuilt (the page on screen). */
export function describeLive(node) {
  if (!node || node.nodeType !== 1) return null;
  const tag = node.tagName.toLowerCase();
  const attrs = { id: node.id, class: typeof node.className === 'string' ? node.className : '' };
  if (FIELDS.has(tag)) attrs.name = node.getAttribute('name') || '';
  return { selector: selector(tag, attrs), text: FIELDS.has(tag) ? '' : truncate(node.textContent), tag };
}
