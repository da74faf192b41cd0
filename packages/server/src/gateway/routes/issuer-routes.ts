import type { FastifyInstance, FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify';
import { escapeHtml, htmlPage } from '../../html/index.ts';
import type { IdentityService, InteractionForm, TenantIssuer } from '../../identity/index.ts';
import { OverLimitError, rateLimitHeaders, type SignInLimits } from '../../quotas/index.ts';
import type { Tenant } from '../../tenancy/index.ts';
import type { IssuerCharge } from '../rate-limit-hook.ts';
import { HTML_PAGE, SLUG } from '../schemas.ts';
import { signInAttempts } from '../sign-in-limit-hook.ts';

const TAGS = ['identity'];
/** Largest sign-in form accepted (email, password, code and the step). */
const FORM_BODY_LIMIT = 8192;
const FIELD = { type: 'string', maxLength: 1024 } as const;
/**
 * The provider's endpoints that machines call, which never read or set its cookies (token,
 * introspection, revocation, keys, discovery, device authorization, pushed requests): their
 * requests skip the check of the stored cookie secret. Like the provider's router, it ignores
 * ASCII case and one trailing slash.
 */
const COOKIELESS =
  /^(?:token(?:\/introspection|\/revocation)?|jwks|\.well-known\/[^/]+|device\/auth|request)\/?$/i;

/**
 * `/t/<slug>` as the request spelled it: a percent-encoded slug is longer than the decoded
 * one, so cutting the decoded slug's length would hand the slug's tail to the provider as a path.
 */
const ISSUER_PREFIX = /^\/t\/[^/?]*/;

/**
 * Hands the request to the tenant issuer's `oidc-provider` as `<public URL>/t/<slug>/…`: the
 * path below the issuer becomes the request URL (absolute, so every endpoint URL the provider
 * builds is under the public URL whatever Host the request came with) and the issuer's path
 * its mount path. The reply is hijacked: the provider writes the response itself.
 */
function dispatch(issuer: TenantIssuer, request: FastifyRequest, reply: FastifyReply): void {
  const raw = request.raw as typeof request.raw & { baseUrl?: string };
  const issuerUrl = new URL(issuer.provider.issuer);
  const rest = (raw.url ?? '/').replace(ISSUER_PREFIX, '') || '/';
  raw.baseUrl = issuerUrl.pathname;
  raw.url = `${issuerUrl.origin}${rest.startsWith('/') ? rest : `/${rest}`}`;
  reply.hijack();
  issuer.provider.callback()(raw, reply.raw);
}

/**
 * Leaves the provider, which reads X-Forwarded-* (see createTenantProvider), only what the
 * gateway concluded from them: the client address and scheme that `trustedProxies` vouch for,
 * else the connection's own. A client's own X-Forwarded-For or -Proto would otherwise name its
 * address (kept with a device code) and decide whether the cookies are Secure. The provider
 * builds no URL from the request (dispatch gives it an absolute one): X-Forwarded-Host goes.
 */
async function forwardedAsTrusted(request: FastifyRequest): Promise<void> {
  const { ip, protocol } = request;
  const headers = request.raw.headers;
  headers['x-forwarded-for'] = ip;
  headers['x-forwarded-proto'] = protocol;
  delete headers['x-forwarded-host'];
}

/** Runs a page handler after the reply was hijacked: a failure still gets an answer. */
async function hijacked(
  request: FastifyRequest,
  reply: FastifyReply,
  page: () => Promise<void>,
): Promise<void> {
  reply.hijack();
  try {
    await page();
  } catch (error) {
    request.log.error({ err: error }, 'issuer page failed');
    if (!reply.raw.headersSent) reply.raw.writeHead(500, { 'content-type': 'text/plain' });
    reply.raw.end('internal error; the server log has the details');
  }
}

/**
 * A browser over a rate (posting a sign-in form too often, or its tenant's request rate) gets
 * a page, not problem+json: the 429 with its Retry-After and rate-limit fields, and what to
 * do. The machines' endpoints (COOKIELESS), and any other error, go on to the gateway's
 * problem handler.
 */
function tooManyAttemptsPage(error: Error, request: FastifyRequest, reply: FastifyReply) {
  const rest = (request.params as Record<string, string | undefined>)['*'];
  if (!(error instanceof OverLimitError) || (rest !== undefined && COOKIELESS.test(rest)))
    throw error;
  return reply
    .code(error.status)
    .headers(rateLimitHeaders(error.quota))
    .type('text/html; charset=utf-8')
    .send(htmlPage('Too many attempts', `<p>${escapeHtml(error.message)}</p>`));
}

/**
 * A route-level onRequest hook charging the request to the issuer bucket of the tenant its
 * `slug` names (the tenant's request rate, apart from its API requests), before the body is
 * read. The slug of no active tenant is not charged: the
 * route refuses it at once, from the same cache.
 */
function issuerRequests(identity: IdentityService, charge: IssuerCharge): onRequestHookHandler {
  return (request, reply, done) => {
    const charged = (tenant: Tenant | undefined) => {
      if (tenant?.status === 'active') charge(tenant, reply, done);
      else done();
    };
    const tenant = identity.tenantOf((request.params as { slug: string }).slug);
    if (tenant instanceof Promise) tenant.then(charged, done);
    else charged(tenant);
  };
}

/**
 * `/t/<slug>/…`: each tenant's OAuth 2.1 / OpenID Connect issuer and its sign-in pages. Every
 * request is charged to its tenant's issuer bucket (`charge`); `limits` counts submissions of
 * the sign-in and consent form and of the device-code form per address, first.
 */
export function issuerRoutes(
  app: FastifyInstance,
  identity: IdentityService,
  limits: SignInLimits,
  charge: IssuerCharge,
): void {
  const charged = issuerRequests(identity, charge);
  const attempts = signInAttempts(limits);
  // RFC 8628's user-code form is the provider's `/device`; its other endpoints are machines'.
  // The provider's router ignores ASCII case and one trailing slash, so this must too.
  const deviceCodeAttempts = signInAttempts(
    limits,
    (request) =>
      request.method === 'POST' &&
      /^device\/?$/i.test((request.params as Record<string, string>)['*'] ?? ''),
  );
  app.register(async (scope) => {
    scope.setErrorHandler(tooManyAttemptsPage);
    scope.addHook('preHandler', forwardedAsTrusted);
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser(
      'application/x-www-form-urlencoded',
      { parseAs: 'string', bodyLimit: FORM_BODY_LIMIT },
      (_request, body, done) => done(null, Object.fromEntries(new URLSearchParams(body as string))),
    );
    const params = {
      type: 'object',
      required: ['slug', 'uid'],
      properties: { slug: SLUG, uid: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$' } },
    } as const;
    scope.get<{ Params: { slug: string; uid: string } }>('/t/:slug/interaction/:uid', {
      config: { auth: 'public' },
      onRequest: charged,
      schema: {
        summary: 'Sign-in or consent page of an authorization',
        tags: TAGS,
        params,
        response: { 200: HTML_PAGE },
      },
      handler: async (request, reply) => {
        const issuer = await identity.issuers.get(request.params.slug, { cookies: true });
        await hijacked(request, reply, () =>
          identity.interactions.show(issuer, request.raw, reply.raw),
        );
      },
    });
    scope.post<{ Params: { slug: string; uid: string }; Body: InteractionForm }>(
      '/t/:slug/interaction/:uid',
      {
        config: { auth: 'public' },
        onRequest: [attempts, charged],
        schema: {
          summary: 'Submit the sign-in or consent form (application/x-www-form-urlencoded)',
          tags: TAGS,
          params,
          response: {
            200: HTML_PAGE,
            303: {
              type: 'null',
              description: 'the step is done: on to the authorization, named in Location',
            },
          },
          body: {
            type: 'object',
            properties: {
              step: { type: 'string', enum: ['login', 'consent', 'abort'] },
              email: FIELD,
              password: FIELD,
              totp: { type: 'string', maxLength: 16 },
            },
          },
        },
        handler: async (request, reply) => {
          const issuer = await identity.issuers.get(request.params.slug, { cookies: true });
          await hijacked(request, reply, () =>
            identity.interactions.submit(issuer, request.raw, reply.raw, request.body ?? {}),
          );
        },
      },
    );
  });

  app.register(async (scope) => {
    scope.setErrorHandler(tooManyAttemptsPage);
    scope.addHook('preHandler', forwardedAsTrusted);
    // The provider reads request bodies itself: leave the stream unread.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', (_request, _payload, done) => done(null));
    scope.route<{ Params: { slug: string; '*'?: string } }>({
      method: ['GET', 'POST'],
      url: '/t/:slug/*',
      config: { auth: 'public' },
      onRequest: [deviceCodeAttempts, charged],
      schema: {
        summary:
          "A tenant issuer's OAuth 2.1 / OpenID Connect endpoints (discovery at /t/{slug}/.well-known/openid-configuration)",
        tags: TAGS,
        params: {
          type: 'object',
          required: ['slug'],
          properties: { slug: SLUG, '*': { type: 'string' } },
        },
      },
      handler: async (request, reply) => {
        const { slug, '*': rest = '' } = request.params;
        dispatch(
          await identity.issuers.get(slug, { cookies: !COOKIELESS.test(rest) }),
          request,
          reply,
        );
      },
    });
  });
}
