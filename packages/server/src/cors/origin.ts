const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

/**
 * Why `value` is not an origin a tenant may allow, or undefined when it is one: an exact
 * serialized origin (RFC 6454 `scheme://host[:port]`, lower-case host, no path or trailing
 * slash), https, or http on a loopback host for local development. The comparison with a
 * browser's `Origin` header is then plain string equality.
 */
export function originProblem(value: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'is not a URL; write scheme://host[:port]';
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    return 'must be https (or http on localhost)';
  if (url.protocol === 'http:' && !LOOPBACK.has(url.hostname))
    return 'must be https: http is accepted only on localhost';
  if (url.origin !== value) return `is not a bare origin; write ${url.origin}`;
  return undefined;
}
