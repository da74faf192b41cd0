import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Authorizer } from '../../authz/index.ts';
import { cursorPage, decodeCursor } from '../../records/index.ts';
import type { UserServices, UserView } from '../../users/index.ts';
import { permissionsOf, tenantOf, tenantPrincipalOf } from '../auth-hook.ts';
import { precondition, versionEtag } from '../if-match.ts';
import { IF_MATCH_HEADERS, NO_BODY, pageOf, pageQuery, ROLE_NAMES, UUID } from '../schemas.ts';

const TAGS = ['users'];
const TIMESTAMP = { type: 'string', format: 'date-time' } as const;
const NAME = { type: 'string', minLength: 1, maxLength: 255 } as const;
/** Built-in or custom roles; a user may hold none until given some. */
const ROLES = { ...ROLE_NAMES, minItems: 0 } as const;
const ID_PARAMS = { type: 'object', required: ['id'], properties: { id: UUID } } as const;
/** A user as the API shows it. */
export const USER = {
  type: 'object',
  required: [
    'id',
    'email',
    'name',
    'roles',
    'disabled',
    'active',
    'totp',
    'failedSignIns',
    'lockedUntil',
    'version',
    'createdAt',
    'updatedAt',
  ],
  properties: {
    id: UUID,
    email: { type: 'string' },
    name: { type: 'string' },
    roles: { type: 'array', items: { type: 'string' } },
    disabled: { type: 'boolean' },
    active: { type: 'boolean', description: 'the user has accepted an invitation' },
    totp: { type: 'boolean', description: 'the user has a TOTP second factor' },
    failedSignIns: { type: 'integer' },
    lockedUntil: { type: ['string', 'null'], format: 'date-time' },
    version: { type: 'integer' },
    createdAt: TIMESTAMP,
    updatedAt: TIMESTAMP,
  },
} as const;
const INVITATION = {
  type: 'object',
  required: ['link', 'expiresAt'],
  properties: {
    link: { type: 'string', description: 'the one-time page, relative to the API origin' },
    expiresAt: TIMESTAMP,
  },
} as const;

/** The user, with its version as the ETag (moved by every write, sign-ins included). */
export function sendUser(reply: FastifyReply, user: UserView): FastifyReply {
  return reply.header('etag', versionEtag(user.version)).send(user);
}

/** Users of the caller's tenant: `/v1/users…` (`users:read`, `users:write`). */
export function userRoutes(
  app: FastifyInstance,
  users: UserServices,
  authorizer: Authorizer,
  pageSizeMax: number,
): void {
  const service = users.service;

  app.post<{ Body: { email: string; name: string; roles?: string[] } }>('/v1/users', {
    config: { auth: 'users:write' },
    schema: {
      summary: 'Create a user; the answer carries their one-time invitation link (shown once)',
      tags: TAGS,
      body: {
        type: 'object',
        additionalProperties: false,
        required: ['email', 'name'],
        properties: {
          email: { type: 'string', format: 'email', maxLength: 254 },
          name: NAME,
          roles: ROLES,
        },
      },
      response: {
        201: {
          type: 'object',
          required: ['user', 'invitation'],
          properties: { user: USER, invitation: INVITATION },
        },
      },
    },
    handler: async (request, reply) => {
      const { email, name, roles = [] } = request.body;
      const created = await service.create(
        tenantOf(request),
        { email, name, roles },
        permissionsOf(request),
      );
      return reply.code(201).send({
        user: created.user,
        invitation: { link: created.invitation.path, expiresAt: created.invitation.expiresAt },
      });
    },
  });

  app.get<{ Querystring: { limit: number; cursor?: string } }>('/v1/users', {
    config: { auth: 'users:read' },
    schema: {
      summary: 'List the users the caller may read by id, with a cursor',
      tags: TAGS,
      querystring: pageQuery(pageSizeMax),
      response: { 200: pageOf(USER) },
    },
    handler: async (request) => {
      const { limit, cursor } = request.query;
      // The route decided the listing; each user is decided as GET /v1/users/{id} is.
      const principal = tenantPrincipalOf(request);
      return cursorPage(
        await service.list(
          principal.context,
          decodeCursor(cursor),
          limit,
          await authorizer.itemReads(principal, 'users:read'),
        ),
      );
    },
  });

  app.get<{ Params: { id: string } }>('/v1/users/:id', {
    config: { auth: 'users:read' },
    schema: { summary: 'One user', tags: TAGS, params: ID_PARAMS, response: { 200: USER } },
    handler: async (request, reply) =>
      sendUser(reply, await service.get(tenantOf(request), request.params.id)),
  });

  app.patch<{
    Params: { id: string };
    Body: { name?: string; roles?: string[]; disabled?: boolean };
  }>('/v1/users/:id', {
    config: { auth: 'users:write' },
    schema: {
      summary: "Change a user's name or roles, or disable (or enable) them (If-Match optional)",
      tags: TAGS,
      params: ID_PARAMS,
      headers: IF_MATCH_HEADERS,
      body: {
        type: 'object',
        additionalProperties: false,
        minProperties: 1,
        properties: { name: NAME, roles: ROLES, disabled: { type: 'boolean' } },
      },
      response: { 200: USER },
    },
    handler: async (request, reply) =>
      sendUser(
        reply,
        await service.update(
          tenantOf(request),
          request.params.id,
          request.body,
          permissionsOf(request),
          precondition(request),
        ),
      ),
  });

  app.delete<{ Params: { id: string } }>('/v1/users/:id', {
    config: { auth: 'users:write' },
    schema: {
      summary: 'Delete a user (If-Match optional)',
      tags: TAGS,
      params: ID_PARAMS,
      headers: IF_MATCH_HEADERS,
      response: { 204: NO_BODY },
    },
    handler: async (request, reply) => {
      await service.remove(
        tenantOf(request),
        request.params.id,
        permissionsOf(request),
        precondition(request),
      );
      return reply.code(204).send();
    },
  });

  app.post<{ Params: { id: string } }>('/v1/users/:id/invitation', {
    config: { auth: 'users:write' },
    schema: {
      summary:
        'A new one-time invitation link (to set or reset the password); earlier ones stop working',
      tags: TAGS,
      params: ID_PARAMS,
      response: { 201: INVITATION },
    },
    handler: async (request, reply) => {
      const invitation = await service.invite(
        tenantOf(request),
        request.params.id,
        permissionsOf(request),
      );
      return reply.code(201).send({ link: invitation.path, expiresAt: invitation.expiresAt });
    },
  });

  app.delete<{ Params: { id: string } }>('/v1/users/:id/totp', {
    config: { auth: 'users:write' },
    schema: {
      summary:
        "Remove a user's TOTP second factor (they enrol again through a new invitation; If-Match optional)",
      tags: TAGS,
      params: ID_PARAMS,
      headers: IF_MATCH_HEADERS,
      response: { 200: USER },
    },
    handler: async (request, reply) =>
      sendUser(
        reply,
        await service.resetTotp(
          tenantOf(request),
          request.params.id,
          permissionsOf(request),
          precondition(request),
        ),
      ),
  });
}
