/** Escapes text for HTML element content and quoted attribute values. */
export function escapeHtml(value: unknown): string {
  return String(value).replace(/[&<>"'`]/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Pretty JSON for a `<pre>` block, escaped. */
export function prettyJson(value: unknown): string {
  return escapeHtml(JSON.stringify(value, null, 2));
}

/** A random nonce for a Content-Security-Policy `script-src 'nonce-…'`. */
export function cspNonce(): string {
  return globalThis.crypto.randomUUID().replaceAll('-', '');
}
