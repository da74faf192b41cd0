import type { FastifyRequest, onRequestHookHandler } from 'fastify';
import type { SignInLimits } from '../quotas/index.ts';

/**
 * A route-level onRequest hook charging a sign-in attempt of the request's address at the
 * tenant of its `slug` parameter (see SignInLimits), for the form posts of the sign-in pages
 * only: `applies` picks them on a route that also serves other requests. A refusal is
 * PALISADE_RATE_LIMITED (429) with Retry-After, answered before the body is read.
 */
export function signInAttempts(
  limits: SignInLimits,
  applies: (request: FastifyRequest) => boolean = (request) => request.method === 'POST',
): onRequestHookHandler {
  return (request, _reply, done) => {
    if (!applies(request)) {
      done();
      return;
    }
    const { slug } = request.params as { slug: string };
    done(limits.admit(slug, request.ip));
  };
}
