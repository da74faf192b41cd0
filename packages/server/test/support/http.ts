/** Calls to a listening server over real HTTP, as a client of the API makes them. */

export interface HttpReply {
  readonly status: number;
  readonly headers: Headers;
  // biome-ignore lint/suspicious/noExplicitAny: response JSON is asserted field by field in tests
  readonly body: any;
}

/**
 * `method base+path` as the holder of `token`, with `body` sent as JSON (a string as it is).
 * A JSON answer's body comes parsed, any other as text; redirects are answered, not followed.
 */
export async function httpCall(
  base: string,
  method: string,
  path: string,
  token?: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<HttpReply> {
  const response = await fetch(`${base}${path}`, {
    method,
    redirect: 'manual',
    headers: {
      ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...headers,
    },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  const text = await response.text();
  const type = response.headers.get('content-type') ?? '';
  return {
    status: response.status,
    headers: response.headers,
    body: type.includes('json') && text !== '' ? JSON.parse(text) : text,
  };
}
