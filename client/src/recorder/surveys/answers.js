// Answers as the server checks them (docs/surveys.md, "What the recorder sends"):
// rating and nps numbers, single a string, multiple an array of strings, text a string
// of at most 2,000 characters. Pure functions.

import { MAX_TEXT_ANSWER } from './definition.js';

/**
 * A question's answer from what its inputs hold (`values`: the checked inputs' values
 * as strings, or the text typed), or undefined when it is unanswered.
 */
export function answerFrom(question, values) {
  const list = Array.isArray(values) ? values.filter((v) => typeof v === 'string') : [];
  switch (question.kind) {
    case 'single':
      return list.length && question.choices.indexOf(list[0]) >= 0 ? list[0] : undefined;
    case 'multiple': {
      const picked = question.choices.filter((c) => list.indexOf(c) >= 0);
      return picked.length ? picked : undefined;
    }
    case 'rating':
    case 'nps': {
      if (!list.length || !/^\d{1,2}$/.test(list[0])) return undefined;
      const n = Number(list[0]);
      const [lo, hi] = question.kind === 'rating' ? [1, 5] : [0, 10];
      return n >= lo && n <= hi ? n : undefined;
    }
    case 'text': {
      const value = typeof values === 'string' ? values : list[0] || '';
      return value.trim() ? value.slice(0, MAX_TEXT_ANSWER) : undefined;
    }
    default:
      return undefined;
  }
}

/** Whether a required question blocks the next step. */
export function missingRequired(question, answer) {
  return question.required === true && answer === undefined;
}

/** The answers object sent: only questions of the survey, only valid answered values. */
export function shapeAnswers(questions, answers) {
  const out = {};
  for (const question of questions) {
    const value = answers ? answers[question.id] : undefined;
    if (value === undefined) continue;
    let raw;
    if (question.kind === 'text') raw = typeof value === 'string' ? value : '';
    else raw = Array.isArray(value) ? value.map(String) : [String(value)];
    const clean = answerFrom(question, raw);
    if (clean !== undefined) out[question.id] = clean;
  }
  return out;
}
