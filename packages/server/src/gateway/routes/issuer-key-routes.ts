import type { FastifyInstance } from 'fastify';
import type { IdentityService } from '../../identity/index.ts';
import { tenantOf } from '../auth-hook.ts';
import { NO_BODY } from '../schemas.ts';

/** `/v1/issuer/keys…`: the signing keys of the caller's tenant issuer. */
export function issuerKeyRoutes(app: FastifyInstance, identity: IdentityService): void {
  app.post('/v1/issuer/keys/rotate', {
    config: { auth: 'keys:rotate' },
    schema: {
      summary:
        "Rotate the tenant issuer's signing keys: new tokens use new keys, tokens already issued stay valid until they expire",
      tags: ['identity'],
      response: { 204: NO_BODY },
    },
    handler: async (request, reply) => {
      const context = tenantOf(request);
      await identity.rotateKeys(context.tenant, context.actor.id);
      return reply.code(204).send();
    },
  });
}
