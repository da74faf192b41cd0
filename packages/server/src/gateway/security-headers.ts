import type { FastifyInstance } from 'fastify';

/** The pages served under `/t/{slug}/…` (sign-in, consent, device flow) rather than JSON. */
const PAGE_PREFIX = '/t/';

/** A JSON API loads nothing and is never framed. */
const API_CSP = "default-src 'none'; frame-ancestors 'none'";

/**
 * Server-rendered pages may load their own scripts, styles and images, never inline script,
 * plugins or another base. No `form-action`: browsers apply it to the redirect that follows a
 * posted consent form, which leads to the client's redirect URI on another origin.
 */
const PAGE_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
  "object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

export interface SecurityHeaderOptions {
  /** True when the gateway serves HTTPS: only then is HSTS sent. */
  readonly tls: boolean;
  /** `max-age` of Strict-Transport-Security; 0 sends none. */
  readonly hstsMaxAgeSeconds: number;
}

function commonHeaders(options: SecurityHeaderOptions): Record<string, string> {
  const common: Record<string, string> = {
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'referrer-policy': 'no-referrer',
  };
  if (options.tls && options.hstsMaxAgeSeconds > 0)
    common['strict-transport-security'] = `max-age=${options.hstsMaxAgeSeconds}`;
  return common;
}

/** The security headers of an API response (see installSecurityHeaders). */
export function apiSecurityHeaders(options: SecurityHeaderOptions): Record<string, string> {
  return { ...commonHeaders(options), 'content-security-policy': API_CSP };
}

/**
 * Security headers on every response, errors included: nosniff, frame denial, no referrer, a
 * Content-Security-Policy per route type (the API's `default-src 'none'`, the pages' `'self'`
 * without inline script) and HSTS when serving TLS. Each set is made once. API routes get
 * them as Fastify reply headers, which Node writes in one pass with the route's own; a
 * route that hijacks the reply writes `reply.getHeaders()` with its own head. The pages under
 * `/t/` are written by the OIDC provider straight to the raw response, so there they are set
 * on the raw response. Either way a route may still override one with `reply.header`.
 * Registered before authentication, so refusals carry them.
 */
export function installSecurityHeaders(app: FastifyInstance, options: SecurityHeaderOptions): void {
  const common = commonHeaders(options);
  const api = apiSecurityHeaders(options);
  const pages: readonly [string, string][] = Object.entries({
    ...common,
    'content-security-policy': PAGE_CSP,
    'cross-origin-opener-policy': 'same-origin',
  });
  // A callback hook: an async one costs a promise per request. Headers set on the raw
  // response would send every reply header through Node's slower merge at writeHead.
  app.addHook('onRequest', (request, reply, done) => {
    if (request.routeOptions.url?.startsWith(PAGE_PREFIX)) {
      const raw = reply.raw;
      for (const [name, value] of pages) raw.setHeader(name, value);
    } else {
      reply.headers(api);
    }
    done();
  });
}
