// node --test test/   (pure functions only; browser behaviour is tested end to end)
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  describeSerialized,
  hintWords,
  isNeverRecorded,
  looksSensitive,
  luhnValid,
  maskValue,
  scrubCardNumbers,
  scrubLongNumbers,
} from '../src/recorder/privacy.js';

const field = (tag, attrs) => describeSerialized(tag, attrs);

test('luhn', () => {
  assert.equal(luhnValid('4242424242424242'), true);
  assert.equal(luhnValid('4242424242424241'), false);
  assert.equal(luhnValid('378282246310005'), true);
});

test('password, hidden, card and one-time-code fields are never recorded', () => {
  const never = [
    field('input', { type: 'password', name: 'x' }),
    field('input', { type: 'hidden', name: 'csrf' }),
    field('input', { name: 'cardnumber', autocomplete: 'cc-number' }),
    field('input', { name: 'x', autocomplete: 'section-pay billing cc-exp' }),
    field('input', { autocomplete: 'one-time-code' }),
    field('input', { autocomplete: 'current-password', type: 'text' }),
    field('input', { id: 'cvv' }),
    field('input', { name: 'CVC2' }),
    field('input', { placeholder: 'Security code' }),
    field('input', { 'aria-label': 'IBAN' }),
    field('input', { name: 'ccnum' }),
    field('input', { name: 'cc-num' }),
    field('input', { name: 'expiry_date' }),
    field('select', { name: 'cc-exp-month' }),
  ];
  for (const f of never) assert.equal(isNeverRecorded(f), true, JSON.stringify(f));
  for (const f of never) assert.equal(maskValue('4242424242424242', f, true), '');
  const ordinary = [field('input', { name: 'email', type: 'email' }), field('textarea', { name: 'notes' }), field('select', { name: 'size' })];
  for (const f of ordinary) assert.equal(isNeverRecorded(f), false, JSON.stringify(f));
});

test('ordinary fields are masked to the same length; buttons keep their label', () => {
  assert.equal(maskValue('Zeb Quux', field('input', { name: 'name' }), false), '********');
  assert.equal(maskValue('Pay now', field('input', { type: 'submit' }), false), 'Pay now');
  assert.equal(maskValue('', field('input', {}), false), '');
});

test('unmasked fields keep text but not card numbers or long numbers', () => {
  const f = field('input', { name: 'reference' });
  assert.equal(maskValue('order 12345', f, true), 'order 12345');
  assert.equal(maskValue('card 4242 4242 4242 4242 x', f, true), 'card **** **** **** **** x');
  // while being typed (not yet Luhn-valid) it is masked too
  assert.equal(maskValue('4242 4242 4242 42', f, true), '**** **** **** **');
  assert.equal(maskValue('4242.4242.4242', f, true), '****.****.****');
  assert.equal(scrubLongNumbers('tel 123456'), 'tel 123456');
});

test('card numbers are scrubbed anywhere, other numbers kept', () => {
  assert.equal(scrubCardNumbers('pay 4242424242424242 now'), 'pay **************** now');
  assert.equal(scrubCardNumbers('4242-4242-4242-4242'), '****-****-****-****');
  assert.equal(scrubCardNumbers('4242 4242 4242 4242 737'), '**** **** **** **** 737');
  assert.equal(scrubCardNumbers('ref 12 4242 4242 4242 4242'), 'ref 12 **** **** **** ****');
  assert.equal(scrubCardNumbers('3782 822463 10005'), '**** ****** *****');
  assert.equal(scrubCardNumbers('id 4242424242424241'), 'id 4242424242424241');
  assert.equal(scrubCardNumbers('9' + '4242424242424242'), '94242424242424242');
  assert.equal(scrubCardNumbers('short 12345'), 'short 12345');
  assert.equal(scrubCardNumbers(42), 42);
});

test('labels, names and placeholders name sensitive fields', () => {
  const sensitive = [
    'Card number', 'Credit card', 'cardNumber', 'CC number', 'cc_exp', 'CVV', 'CVC2', 'Security code',
    'Expiry date', 'Expiration', 'MM / YY', 'IBAN', 'Sort code', 'sortCode', 'Account number', 'acct_no',
    'Routing number', 'routingNumber', 'SSN', 'user_ssn', 'Social security number', 'One-time code',
    'Verification code', 'otp', 'otpCode', '2FA', 'Password', 'PIN',
  ];
  for (const text of sensitive) assert.equal(looksSensitive(text), true, text);
  const ordinary = [
    'Email', 'Name', 'Discount code?', 'Discard', 'Cardigan size', 'Postcode', 'Zip code', 'Account name',
    'Notes', 'Classname', 'Pinterest', 'Footprint', 'Search', '', 'Account notes',
  ];
  for (const text of ordinary) assert.equal(looksSensitive(text), false, text);
  assert.equal(hintWords('userSSN-code'), 'user ssn code');
});

test('a field labelled as a card number is never recorded, a checkbox is', () => {
  const byLabel = { ...field('input', { id: 'pan' }), labels: 'Card number ' };
  assert.equal(isNeverRecorded(byLabel), true);
  assert.equal(maskValue('4242424242424242', byLabel, true), '');
  const byPlaceholder = field('input', { name: 'x', placeholder: 'Sort code' });
  assert.equal(isNeverRecorded(byPlaceholder), true);
  const save = { ...field('input', { type: 'checkbox', name: 'save_card' }), labels: 'Save my card' };
  assert.equal(isNeverRecorded(save), false);
  const named = { ...field('input', { name: 'first' }), labels: 'First name' };
  assert.equal(isNeverRecorded(named), false);
});
