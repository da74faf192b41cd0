import type { FastifyInstance } from 'fastify';
import { RateLimitedError, type RequestQuotas } from '../quotas/index.ts';

/**
 * Charges every authenticated tenant request to its tenant's and principal's request
 * buckets, right after authentication and before the body is read. Admitted responses carry
 * `RateLimit-Policy` and `RateLimit`; refusals are PALISADE_RATE_LIMITED (429) with
 * `Retry-After` too (added by the problem handler). Platform-admin and public routes are not
 * charged. Register after `installAuth`: hooks run in registration order.
 *
 * A refusal is sent after about `refusalDelayMs`, not at once: a client that ignores
 * Retry-After and calls again as soon as it is refused (a flood over a fixed set of
 * connections) then sends a request per connection per delay instead of as many as the server
 * can refuse, so its refusals cannot crowd out other tenants. A held request costs a timer, no
 * CPU. The delay is jittered (half to one and a half times): connections refused together
 * would otherwise come back together and spend the refilled bucket in one burst.
 */
export function installRateLimits(
  app: FastifyInstance,
  quotas: RequestQuotas,
  refusalDelayMs: number,
): void {
  // A callback hook: an async one costs a promise per request.
  app.addHook('onRequest', (request, reply, done) => {
    const principal = request.principal;
    if (principal?.kind !== 'tenant') {
      done();
      return;
    }
    const admission = quotas.admit(principal.context);
    if (admission instanceof RateLimitedError) {
      if (refusalDelayMs === 0) done(admission);
      else setTimeout(done, refusalDelayMs * (0.5 + Math.random()), admission);
      return;
    }
    if (admission !== undefined) {
      reply.header('ratelimit-policy', admission.policy);
      reply.header('ratelimit', admission.status);
    }
    done();
  });
}
