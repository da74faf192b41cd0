/**
 * The node credential of a route an edge node calls, verified in `onRequest` as
 * `installAuth` verifies every other credential: before the body is read or validated.
 * So a refused node learns why it is refused (disabled, tenant suspended, unknown credential)
 * whatever its body holds, and a caller without a credential never learns the body's schema.
 */
import type { FastifyRequest, onRequestAsyncHookHandler } from 'fastify';
import type { EdgeNodeSession, EdgeService } from '../edge/index.ts';
import { PalisadeError } from '../errors/index.ts';
import type { RequestCharge } from './rate-limit-hook.ts';

const sessions = new WeakMap<FastifyRequest, EdgeNodeSession>();

/**
 * A route `onRequest` hook that authenticates the calling edge node and charges the request to
 * the node and its tenant, as every tenant request is charged.
 */
export function authenticateEdgeNode(
  edge: EdgeService,
  charge: RequestCharge,
): onRequestAsyncHookHandler {
  return async (request, reply) => {
    const session = await edge.authenticate(request.headers.authorization);
    sessions.set(request, session);
    await new Promise<void>((resolve, reject) =>
      charge(session.context, reply, (refusal) =>
        refusal === undefined ? resolve() : reject(refusal),
      ),
    );
  };
}

/** The node {@link authenticateEdgeNode} authenticated for this request. */
export function edgeNodeOf(request: FastifyRequest): EdgeNodeSession {
  const session = sessions.get(request);
  if (session === undefined)
    throw new PalisadeError('PALISADE_EDGE_UNAUTHENTICATED', 'this route needs a node credential');
  return session;
}
