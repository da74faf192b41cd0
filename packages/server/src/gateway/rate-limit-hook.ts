import type { FastifyInstance, FastifyReply } from 'fastify';
import { RateLimitedError, type RateLimitFields, type RequestQuotas } from '../quotas/index.ts';
import type { Tenant, TenantContext } from '../tenancy/index.ts';

/**
 * Charges one request of `context`'s principal: sets the rate-limit fields on `reply` and
 * calls `done()`, or calls `done(refusal)`, after the refusal delay.
 */
export type RequestCharge = (
  context: TenantContext,
  reply: FastifyReply,
  done: (error?: RateLimitedError) => void,
) => void;

/**
 * Charges a tenant request to its tenant's and principal's request buckets. Admitted
 * responses carry `RateLimit-Policy` and `RateLimit`; refusals are PALISADE_RATE_LIMITED
 * (429) with `Retry-After` too (added by the problem handler).
 *
 * A refusal is sent after about `refusalDelayMs`, not at once: a client that ignores
 * Retry-After and calls again as soon as it is refused (a flood over a fixed set of
 * connections) then sends a request per connection per delay instead of as many as the server
 * can refuse, so its refusals cannot crowd out other tenants. A held request costs a timer, no
 * CPU. The delay is jittered (half to one and a half times): connections refused together
 * would otherwise come back together and spend the refilled bucket in one burst.
 */
export function requestCharge(quotas: RequestQuotas, refusalDelayMs: number): RequestCharge {
  return (context, reply, done) =>
    settle(quotas.admit(context), refusalDelayMs, done, (fields) => {
      reply.header('ratelimit-policy', fields.policy);
      reply.header('ratelimit', fields.status);
    });
}

/** Charges one request to `tenant`'s issuer bucket; otherwise as `RequestCharge`. */
export type IssuerCharge = (
  tenant: Tenant,
  reply: FastifyReply,
  done: (error?: RateLimitedError) => void,
) => void;

/**
 * Charges a request to a tenant's issuer (`/t/{slug}/…`) to that issuer's bucket (see
 * `RequestQuotas.admitIssuer`), refused after the same delay as `requestCharge`. The
 * fields of an admitted request are set on the raw response, which the issuer writes itself.
 */
export function issuerCharge(quotas: RequestQuotas, refusalDelayMs: number): IssuerCharge {
  return (tenant, reply, done) =>
    settle(quotas.admitIssuer(tenant), refusalDelayMs, done, (fields) => {
      reply.raw.setHeader('ratelimit-policy', fields.policy);
      reply.raw.setHeader('ratelimit', fields.status);
    });
}

function settle(
  admission: RateLimitedError | RateLimitFields | undefined,
  refusalDelayMs: number,
  done: (error?: RateLimitedError) => void,
  admitted: (fields: RateLimitFields) => void,
): void {
  if (admission instanceof RateLimitedError) {
    if (refusalDelayMs === 0) done(admission);
    else setTimeout(done, refusalDelayMs * (0.5 + Math.random()), admission);
    return;
  }
  if (admission !== undefined) admitted(admission);
  done();
}

/**
 * Charges every request the gateway authenticated as a tenant principal, right after
 * authentication and before the body is read. An edge node's routes authenticate the node
 * themselves and charge it there (see `authenticateEdgeNode`). Platform-admin and public
 * routes are not charged. Register after `installAuth`: hooks run in registration order.
 */
export function installRateLimits(app: FastifyInstance, charge: RequestCharge): void {
  // A callback hook: an async one costs a promise per request.
  app.addHook('onRequest', (request, reply, done) => {
    const principal = request.principal;
    if (principal?.kind === 'tenant') charge(principal.context, reply, done);
    else done();
  });
}
