/**
 * The one `returnTo` validator, used by login, logout and requireAuth's redirect.
 * Only a same-origin path survives; anything else falls back to `/`.
 * Rejected: absolute URLs and schemes, protocol-relative `//x`, backslash tricks `/\x`
 * (browsers treat `\` as `/`), percent-encoded variants of those, control characters,
 * userinfo tricks, anything longer than 2048 characters or unparseable.
 */
export function sanitizeReturnTo(value: unknown, fallback = '/'): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > 2048) return fallback;
  // Control characters (incl. tab/newline that URL parsers silently strip) and raw backslashes.
  if (/[\u0000-\u001F\u007F-\u009F\\]/.test(value)) return fallback;
  if (!value.startsWith('/') || value.startsWith('//')) return fallback;
  let decoded = value;
  // Decode repeatedly so `/%2F%2Fevil`, `/%5Cevil` and double-encodings are judged as a browser might.
  for (let i = 0; i < 3; i += 1) {
    let next: string;
    try {
      next = decodeURIComponent(decoded);
    } catch {
      return fallback;
    }
    if (/[\u0000-\u001F\u007F-\u009F\\]/.test(next) || next.startsWith('//')) return fallback;
    if (next === decoded) break;
    decoded = next;
  }
  // Resolve against a sentinel origin: the result must stay on that origin and keep no userinfo.
  const sentinel = 'http://fedgate.invalid';
  let url: URL;
  try {
    url = new URL(value, sentinel);
  } catch {
    return fallback;
  }
  if (url.origin !== sentinel || url.username || url.password) return fallback;
  const result = `${url.pathname}${url.search}${url.hash}`;
  if (!result.startsWith('/') || result.startsWith('//')) return fallback;
  // Dot segments can bring an encoded `//` to the front (`/%2e%2e/%2F%2Fx` → `/%2F%2Fx`): the
  // normalized result must pass the same checks (URL normalization is idempotent, so one level).
  if (result !== value && sanitizeReturnTo(result, fallback) !== result) return fallback;
  return result;
}
