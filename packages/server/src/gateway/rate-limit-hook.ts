import type { FastifyInstance } from 'fastify';
import { RateLimitedError, type RequestQuotas } from '../quotas/index.ts';

/**
 * Charges every authenticated tenant request to its tenant's and principal's request
 * buckets, right after authentication and before the body is read. Admitted responses carry
 * `RateLimit-Policy` and `RateLimit`; refusals are PALISADE_RATE_LIMITED (429) with
 * `Retry-After` too (added by the problem handler). Platform-admin and public routes are not
 * charged. Register after `installAuth`: hooks run in registration order.
 */
export function installRateLimits(app: FastifyInstance, quotas: RequestQuotas): void {
  // A callback hook: an async one costs a promise per request.
  app.addHook('onRequest', (request, reply, done) => {
    const principal = request.principal;
    if (principal?.kind !== 'tenant') {
      done();
      return;
    }
    const admission = quotas.admit(principal.context);
    if (admission instanceof RateLimitedError) {
      done(admission);
      return;
    }
    if (admission !== undefined) {
      reply.header('ratelimit-policy', admission.policy);
      reply.header('ratelimit', admission.status);
    }
    done();
  });
}
