/**
 * The `returnTo` corpus of issue 2, shared by the unit test of `sanitizeReturnTo` and the
 * end-to-end tests through login and logout: [value as the client sends it, expected result].
 */
export const returnToCorpus: ReadonlyArray<readonly [string, string]> = [
  ['//evil.com', '/'],
  ['/\\evil.com', '/'],
  ['/%2F%2Fevil.com', '/'],
  ['/%2f%2fevil.com', '/'],
  ['/%5Cevil.com', '/'],
  ['/%5cevil.com', '/'],
  ['%2F%2Fevil.com', '/'],
  ['https://evil.com', '/'],
  ['http://evil.com/ok', '/'],
  ['HTTPS://evil.com', '/'],
  ['javascript:alert(1)', '/'],
  ['JaVaScRiPt:alert(1)', '/'],
  ['data:text/html,<script>alert(1)</script>', '/'],
  ['/\t/evil.com', '/'],
  ['/%09/evil.com', '/'],
  ['/\n/evil.com', '/'],
  ['/%0d%0aSet-Cookie:x', '/'],
  ['/%0D%0ASet-Cookie:x', '/'],
  ['http:/evil.com', '/'],
  ['http:evil.com', '/'],
  ['/@evil.com', '/@evil.com'],
  ['///evil.com', '/'],
  ['\\\\evil.com', '/'],
  ['\\/evil.com', '/'],
  ['/\\/evil.com', '/'],
  ['/ok?x=1#h', '/ok?x=1#h'],
  ['/ok', '/ok'],
  ['/a/b?c=%2F%2F', '/a/b?c=%2F%2F'],
  ['/..//evil.com', '/'],
  ['/./../..//evil.com', '/'],
  ['/%2e%2e/%2F%2Fevil.com', '/'],
  ['/%252F%252Fevil.com', '/'],
  ['%252F%252Fevil.com', '/'],
  ['/%25252F%25252Fevil.com', '/'],
  ['/%5C%5Cevil.com', '/'],
  ['/%E0%A4%A', '/'],
  [' /ok', '/'],
  ['/\u0000evil', '/'],
  ['/\u007Fevil', '/'],
  ['evil.com', '/'],
  [`/${'a'.repeat(3000)}`, '/'],
  [`/${'a'.repeat(2000)}`, `/${'a'.repeat(2000)}`],
];

/** The corpus with a short printable label first, for test titles. */
export const labelledReturnToCorpus: ReadonlyArray<readonly [string, string, string]> = returnToCorpus.map(([input, expected]) => {
  const label = JSON.stringify(input);
  return [label.length > 48 ? `${label.slice(0, 40)}…(${input.length} chars)` : label, input, expected] as const;
});
