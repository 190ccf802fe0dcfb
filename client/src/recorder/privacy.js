// Masking decisions for form fields, as small pure functions.
//
// A "field" here is a plain description of an input/textarea/select:
// {tag, type, name, id, autocomplete, placeholder, ariaLabel, labels}. It is
// built either from a live DOM element or from rrweb's serialized attributes
// (no labels then), so the same rules apply to snapshots, mutations and input
// events.

// Hints (id, name, autocomplete, placeholder, aria-label, label text) that mark
// card, bank, identity and one-time-code fields. Matched on hintWords(): lower
// case, camelCase split, anything but letters and digits turned into one space.
const SENSITIVE_HINT = new RegExp(
  [
    '(^|[^s])card(?!igan)', // card, cardnumber, credit card (not discard, cardigan)
    'cc ?(num|no|exp)',
    '(^| )(cvv|cvc|csc|ccv|cvn|cvd)\\d*( |$)',
    'security ?code',
    'expir',
    'exp ?date',
    '(^| )mm ?yy',
    'iban',
    'sort ?code',
    '(account|acct) ?(number|num|nr|no( |$))',
    'routing',
    '(^| )ssn( |$)',
    'social ?security',
    'one ?time ?(code|pass)',
    '(verification|auth|sms) ?code',
    '(^| )(otp|totp|mfa|2fa)( |$)',
    'passw',
    'passcode',
    '(^| )pin( |$)',
  ].join('|'),
);

// Autocomplete tokens whose values are never recorded, not even their length.
const SECRET_AUTOCOMPLETE = ['one-time-code', 'current-password', 'new-password'];

// Input types whose value is a fixed label or option, not something typed.
const STATIC_VALUE_TYPES = ['radio', 'checkbox', 'submit', 'button', 'reset', 'image'];

// 13-19 digits, single spaces or dashes allowed between them.
const DIGIT_RUN = /\d(?:[ -]?\d){12,}/g;
// 7 or more digits, up to 3 other non-letters between them ("4242.4242", "42 / 42").
const LONG_DIGIT_RUN = /\d(?:[^A-Za-z0-9]{0,3}\d){6,}/g;
const MAX_LABEL_CHARS = 500;

function lower(value) {
  return typeof value === 'string' ? value.toLowerCase() : '';
}

function str(value) {
  return typeof value === 'string' ? value : '';
}

/** "cardNumber" -> "card number", "CVC-2" -> "cvc 2", "user_SSN" -> "user ssn". */
export function hintWords(text) {
  return str(text)
    .replace(/([a-z])(?=[A-Z])/g, '$1 ')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, ' ')
    .trim();
}

/** Whether a name, id, placeholder or label names a card, bank, identity or one-time-code field. */
export function looksSensitive(text) {
  return typeof text === 'string' && text !== '' && SENSITIVE_HINT.test(hintWords(text));
}

// The text of a label, without the text of the field itself (a wrapping label
// holds the field: a select's options are not its label).
function labelText(label, field) {
  let text = '';
  const walker = label.ownerDocument.createTreeWalker(label, 4 /* NodeFilter.SHOW_TEXT */);
  for (let node = walker.nextNode(); node && text.length < MAX_LABEL_CHARS; node = walker.nextNode()) {
    if (!field.contains(node)) text += node.nodeValue + ' ';
  }
  return text;
}

/** The field's labels: <label for>, a wrapping <label>, aria-labelledby. */
export function labelsOf(el) {
  let text = '';
  try {
    if (el.labels) for (const label of el.labels) text += labelText(label, el);
    const ids = el.getAttribute('aria-labelledby');
    if (ids) {
      for (const id of ids.split(/\s+/)) {
        const ref = id && el.ownerDocument.getElementById(id);
        if (ref) text += ref.textContent + ' ';
      }
    }
  } catch (_) {
    // a detached or unusual element: its attributes still count
  }
  return text.slice(0, MAX_LABEL_CHARS * 2);
}

/** Describe a live element (reads attributes, plus the `type` property and its labels). */
export function describeElement(el) {
  const attr = (name) => {
    try {
      return str(el.getAttribute(name));
    } catch (_) {
      return '';
    }
  };
  const tag = lower(el.tagName);
  let type = lower(attr('type'));
  if (tag === 'input') type = lower(el.type) || type || 'text';
  return {
    tag,
    type,
    name: attr('name'),
    id: attr('id'),
    autocomplete: attr('autocomplete'),
    placeholder: attr('placeholder'),
    ariaLabel: attr('aria-label'),
    labels: labelsOf(el),
  };
}

/** Describe a field from rrweb's serialized element node (tagName + attributes). */
export function describeSerialized(tagName, attributes) {
  const a = attributes || {};
  const tag = lower(tagName);
  let type = lower(a.type);
  if (tag === 'input' && !type) type = 'text';
  return {
    tag,
    type,
    name: str(a.name),
    id: str(a.id),
    autocomplete: str(a.autocomplete),
    placeholder: str(a.placeholder),
    ariaLabel: str(a['aria-label']),
    labels: '',
  };
}

/**
 * Password, card, bank, identity, one-time-code and hidden fields: their value
 * is never recorded. Buttons, radios and checkboxes hold fixed values, so their
 * names and labels ("Pay by card") do not make them sensitive.
 */
export function isNeverRecorded(field) {
  if (field.tag === 'input' && (field.type === 'password' || field.type === 'hidden')) {
    return true;
  }
  const tokens = lower(field.autocomplete).split(/\s+/);
  for (const token of tokens) {
    if (token.startsWith('cc-') || SECRET_AUTOCOMPLETE.indexOf(token) >= 0) return true;
  }
  if (hasStaticValue(field)) return false;
  const hints = [field.id, field.name, field.autocomplete, field.placeholder, field.ariaLabel, field.labels];
  return hints.some(looksSensitive);
}

/** Whether the value is a fixed label (buttons) or option (radio, checkbox). */
export function hasStaticValue(field) {
  return field.tag === 'input' && STATIC_VALUE_TYPES.indexOf(field.type) >= 0;
}

/**
 * The value to record for a field.
 * - never-recorded fields: '' (not even the length);
 * - buttons, radios, checkboxes: their fixed value (card numbers still scrubbed);
 * - fields the site unmasked (data-sl-unmask): the value, with card numbers and
 *   any other run of 7+ digits masked;
 * - everything else: one '*' per character.
 */
export function maskValue(text, field, unmasked) {
  const value = text == null ? '' : String(text);
  if (isNeverRecorded(field)) return '';
  if (hasStaticValue(field)) return scrubCardNumbers(value);
  if (unmasked) return scrubLongNumbers(scrubCardNumbers(value));
  return '*'.repeat(value.length);
}

/**
 * Mask the digits of every run of 7 or more digits (short separators allowed).
 * Used on values typed into unmasked fields: each keystroke is recorded, and
 * a card number is not Luhn-valid until its last digit, so the Luhn check
 * alone would let its first 12-18 digits through while it is being typed.
 * Up to 6 digits (a card's public issuer prefix at most) stay visible.
 */
export function scrubLongNumbers(text) {
  if (typeof text !== 'string' || text.length < 7) return text;
  return text.replace(LONG_DIGIT_RUN, (run) => run.replace(/\d/g, '*'));
}

/** Luhn checksum over a string of digits. */
export function luhnValid(digits) {
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return digits.length > 0 && sum % 10 === 0;
}

// Mask one run of digits and single spaces/dashes. The run is split into its
// groups ("4242 4242 4242 4242 737" -> 4242, 4242, 4242, 4242, 737); every
// sequence of whole consecutive groups holding 13-19 digits is a candidate, so a
// card number typed next to other numbers is found, while a long id without
// separators is only checked as a whole.
function maskRun(run) {
  const groups = run.split(/[ -]/);
  const hit = new Array(groups.length).fill(false);
  let any = false;
  for (let i = 0; i < groups.length; i++) {
    let digits = '';
    for (let j = i; j < groups.length && digits.length + groups[j].length <= 19; j++) {
      digits += groups[j];
      if (digits.length >= 13 && luhnValid(digits)) {
        for (let k = i; k <= j; k++) hit[k] = true;
        any = true;
      }
    }
  }
  if (!any) return run;
  // Rebuild with the original separators.
  let out = '';
  let g = 0;
  let pos = 0;
  for (const group of groups) {
    out += hit[g] ? '*'.repeat(group.length) : group;
    pos += group.length;
    if (pos < run.length) out += run[pos];
    pos++;
    g++;
  }
  return out;
}

/** Replace the digits of every Luhn-valid 13-19 digit sequence (spaces/dashes allowed) with '*'. */
export function scrubCardNumbers(text) {
  if (typeof text !== 'string' || text.length < 13) return text;
  DIGIT_RUN.lastIndex = 0;
  if (!DIGIT_RUN.test(text)) return text;
  DIGIT_RUN.lastIndex = 0;
  return text.replace(DIGIT_RUN, maskRun);
}
