/** Upstream responses larger than this are refused (token, userinfo, discovery, JWKS). */
export const maxUpstreamResponseBytes = 512 * 1024;

/** RequestInit whose `body` may be given as undefined (openid-client's `customFetch` passes it so). */
export interface FetchInit extends Omit<RequestInit, 'body'> {
  body?: RequestInit['body'] | undefined;
}

/**
 * Wraps fetch so that no upstream response body can exceed `maxBytes`: the body is read with a
 * running count and the request aborts past the cap, before any JSON parsing.
 */
export function limitedFetch(base: typeof fetch, maxBytes = maxUpstreamResponseBytes) {
  return async (url: string, options: FetchInit): Promise<Response> => {
    const res = await base(url, { ...options, body: options.body ?? null });
    const declared = Number(res.headers.get('content-length') ?? '0');
    if (declared > maxBytes) {
      await res.body?.cancel();
      throw new ResponseTooLargeError();
    }
    if (!res.body) return res;
    const reader = res.body.getReader();
    const chunks: Uint8Array[] = [];
    let total = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > maxBytes) {
        await reader.cancel();
        throw new ResponseTooLargeError();
      }
      chunks.push(value);
    }
    const body = new Uint8Array(total);
    let offset = 0;
    for (const c of chunks) {
      body.set(c, offset);
      offset += c.byteLength;
    }
    const noBody = res.status === 204 || res.status === 304;
    return new Response(noBody ? null : body, { status: res.status, statusText: res.statusText, headers: res.headers });
  };
}

export class ResponseTooLargeError extends Error {
  constructor() {
    super('upstream response exceeds the size limit');
    this.name = 'ResponseTooLargeError';
  }
}
