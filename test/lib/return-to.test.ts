import { sanitizeReturnTo } from '../../lib/flow/return-to.js';
import { labelledReturnToCorpus, returnToCorpus } from '../flow/return-to-corpus.js';

describe('sanitizeReturnTo', () => {
  test.each(labelledReturnToCorpus)('%s', (_label, input, expected) => {
    expect(sanitizeReturnTo(input)).toBe(expected);
  });

  test.each([undefined, null, 42, ['/a', '/b'], { toString: () => '/x' }, ''])('a non-string or empty value (%p) falls back to /', (value) => {
    expect(sanitizeReturnTo(value)).toBe('/');
  });

  test('the fallback is configurable, and itself only used for unsafe values', () => {
    expect(sanitizeReturnTo('//evil.com', '/home')).toBe('/home');
    expect(sanitizeReturnTo('/ok', '/home')).toBe('/ok');
  });

  test('every accepted value is a same-origin path that a browser resolves onto this origin', () => {
    for (const [input] of returnToCorpus) {
      const out = sanitizeReturnTo(input);
      const resolved = new URL(out, 'https://app.example.test');
      expect(resolved.origin).toBe('https://app.example.test');
      expect(out.startsWith('/') && !out.startsWith('//') && !out.includes('\\')).toBe(true);
      expect(out).not.toMatch(/[\u0000-\u001F\u007F]/);
    }
  });
});
