import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { BUILT_IN_ROLE_NAMES } from '../../authz/index.ts';
import { PalisadeError } from '../../errors/index.ts';
import { decodeCursor, encodeCursor } from '../../records/index.ts';
import type { Tenant } from '../../tenancy/index.ts';
import {
  checkGrantable,
  INVITATION_PAGE_HEADERS,
  INVITATION_TOKEN_PATTERN,
  invitationDone,
  invitationForm,
  invitationProblem,
  newTotpSecret,
  PASSWORD_MAX_LENGTH,
  PASSWORD_MIN_LENGTH,
  totpBase32,
  totpSecretFromBase32,
  totpUri,
  type UserServices,
  type UserView,
} from '../../users/index.ts';
import { tenantOf } from '../auth-hook.ts';
import { pageOf, pageQuery, SLUG, UUID } from '../schemas.ts';

const TAGS = ['users'];
const TIMESTAMP = { type: 'string', format: 'date-time' } as const;
const NAME = { type: 'string', minLength: 1, maxLength: 255 } as const;
const ROLES = {
  type: 'array',
  maxItems: BUILT_IN_ROLE_NAMES.length,
  uniqueItems: true,
  items: { type: 'string', enum: BUILT_IN_ROLE_NAMES },
} as const;
const ID_PARAMS = { type: 'object', required: ['id'], properties: { id: UUID } } as const;
const USER = {
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

/** Users of the caller's tenant: `/v1/users…` (`users:read`, `users:write`). */
export function userRoutes(app: FastifyInstance, users: UserServices, pageSizeMax: number): void {
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
      grantable(request, roles);
      const created = await service.create(tenantOf(request), { email, name, roles });
      return reply.code(201).send({
        user: created.user,
        invitation: { link: created.invitation.path, expiresAt: created.invitation.expiresAt },
      });
    },
  });

  app.get<{ Querystring: { limit: number; cursor?: string } }>('/v1/users', {
    config: { auth: 'users:read' },
    schema: {
      summary: 'List users by id, with a cursor',
      tags: TAGS,
      querystring: pageQuery(pageSizeMax),
      response: { 200: pageOf(USER) },
    },
    handler: async (request) => {
      const { limit, cursor } = request.query;
      const rows = await service.list(tenantOf(request), decodeCursor(cursor), limit + 1);
      return page(rows, limit);
    },
  });

  app.get<{ Params: { id: string } }>('/v1/users/:id', {
    config: { auth: 'users:read' },
    schema: { summary: 'One user', tags: TAGS, params: ID_PARAMS, response: { 200: USER } },
    handler: async (request) => service.get(tenantOf(request), request.params.id),
  });

  app.patch<{
    Params: { id: string };
    Body: { name?: string; roles?: string[]; disabled?: boolean };
  }>('/v1/users/:id', {
    config: { auth: 'users:write' },
    schema: {
      summary: "Change a user's name or roles, or disable (or enable) them",
      tags: TAGS,
      params: ID_PARAMS,
      body: {
        type: 'object',
        additionalProperties: false,
        minProperties: 1,
        properties: { name: NAME, roles: ROLES, disabled: { type: 'boolean' } },
      },
      response: { 200: USER },
    },
    handler: async (request) => {
      grantable(request, request.body.roles ?? []);
      return service.update(tenantOf(request), request.params.id, request.body);
    },
  });

  app.delete<{ Params: { id: string } }>('/v1/users/:id', {
    config: { auth: 'users:write' },
    schema: { summary: 'Delete a user', tags: TAGS, params: ID_PARAMS },
    handler: async (request, reply) => {
      await service.remove(tenantOf(request), request.params.id);
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
      const invitation = await service.invite(tenantOf(request), request.params.id);
      return reply.code(201).send({ link: invitation.path, expiresAt: invitation.expiresAt });
    },
  });

  app.delete<{ Params: { id: string } }>('/v1/users/:id/totp', {
    config: { auth: 'users:write' },
    schema: {
      summary: "Remove a user's TOTP second factor (they enrol again through a new invitation)",
      tags: TAGS,
      params: ID_PARAMS,
      response: { 200: USER },
    },
    handler: async (request) => service.resetTotp(tenantOf(request), request.params.id),
  });
}

function grantable(request: FastifyRequest, roles: readonly string[]): void {
  const principal = request.principal;
  if (principal?.kind === 'tenant') checkGrantable(principal.permissions, roles);
}

function page(rows: readonly UserView[], limit: number) {
  const items = rows.slice(0, limit);
  const last = items.at(-1);
  return {
    items,
    nextCursor: rows.length > limit && last !== undefined ? encodeCursor(last.id) : null,
  };
}

interface InvitationParams {
  slug: string;
  token: string;
}

interface InvitationForm {
  password: string;
  confirm: string;
  totpSecret?: string;
  totpCode?: string;
}

const FORM_TYPE = 'application/x-www-form-urlencoded';
/** Largest invitation form accepted: two passwords, a TOTP key and a code, with room to spare. */
const FORM_BODY_LIMIT = 16_384;

const INVITATION_PARAMS = {
  type: 'object',
  required: ['slug', 'token'],
  properties: { slug: SLUG, token: { type: 'string', pattern: INVITATION_TOKEN_PATTERN } },
} as const;

function sendPage(reply: FastifyReply, status: number, html: string): FastifyReply {
  return reply.code(status).headers(INVITATION_PAGE_HEADERS).send(html);
}

/**
 * The invitation page `/t/{slug}/invite/{token}`: public, found by the token's hash in the
 * slug's tenant only, so a token shown under another tenant's slug is just unknown.
 */
export function invitationRoutes(
  app: FastifyInstance,
  users: UserServices,
  tenantBySlug: (slug: string) => Promise<Tenant | undefined>,
): void {
  const authenticator = users.authenticator;
  const issuer = 'Palisade';

  async function tenantOfSlug(slug: string): Promise<Tenant> {
    const tenant = await tenantBySlug(slug);
    if (tenant?.status !== 'active')
      throw new PalisadeError(
        'PALISADE_INVITATION_INVALID',
        'this invitation link is unknown, used or expired; ask an admin of the tenant for a new one',
      );
    return tenant;
  }

  async function form(
    reply: FastifyReply,
    params: InvitationParams,
    status: number,
    secret: Uint8Array,
    message?: string,
  ) {
    const tenant = await tenantOfSlug(params.slug);
    const invitation = await authenticator.invitation(tenant, params.token);
    return sendPage(
      reply,
      status,
      invitationForm({
        tenantName: tenant.name,
        email: invitation.email,
        action: `/t/${params.slug}/invite/${params.token}`,
        totpSecret: totpBase32(secret),
        totpUri: totpUri(secret, `${issuer} ${tenant.slug}`, invitation.email),
        minLength: PASSWORD_MIN_LENGTH,
        message,
      }),
    );
  }

  const errorHandler = (
    error: Error & { validation?: unknown },
    _request: unknown,
    reply: FastifyReply,
  ) => {
    if (error instanceof PalisadeError)
      return sendPage(
        reply,
        error.status,
        invitationProblem('This link cannot be used', error.message),
      );
    if (error.validation !== undefined)
      return sendPage(
        reply,
        400,
        invitationProblem(
          'The form is incomplete',
          'fill in every required field and send it again',
        ),
      );
    reply.log.error({ err: error }, 'invitation page failed');
    return sendPage(reply, 500, invitationProblem('Something went wrong', 'try again later'));
  };

  app.register(async (scope) => {
    // An HTML form posts application/x-www-form-urlencoded; only these routes read it.
    if (!scope.hasContentTypeParser(FORM_TYPE))
      scope.addContentTypeParser(
        FORM_TYPE,
        { parseAs: 'string', bodyLimit: FORM_BODY_LIMIT },
        (_request, body, done) =>
          done(null, Object.fromEntries(new URLSearchParams(body as string))),
      );
    pages(scope);
  });

  function pages(app: FastifyInstance): void {
    app.get<{ Params: InvitationParams }>('/t/:slug/invite/:token', {
      config: { auth: 'public' },
      schema: {
        summary: 'The invitation page (HTML): set a password and optionally enrol TOTP',
        tags: TAGS,
        params: INVITATION_PARAMS,
      },
      errorHandler,
      handler: (request, reply) => form(reply, request.params, 200, newTotpSecret()),
    });

    app.post<{ Params: InvitationParams; Body: InvitationForm }>('/t/:slug/invite/:token', {
      config: { auth: 'public' },
      schema: {
        summary: 'Accept an invitation (HTML form post): the link works once',
        tags: TAGS,
        params: INVITATION_PARAMS,
        body: {
          type: 'object',
          required: ['password', 'confirm'],
          properties: {
            password: { type: 'string', maxLength: PASSWORD_MAX_LENGTH * 4 },
            confirm: { type: 'string', maxLength: PASSWORD_MAX_LENGTH * 4 },
            totpSecret: { type: 'string', maxLength: 64 },
            totpCode: { type: 'string', maxLength: 16 },
          },
        },
      },
      errorHandler,
      handler: async (request, reply) => {
        const { password, confirm, totpSecret = '', totpCode = '' } = request.body;
        const secret = totpSecretFromBase32(totpSecret) ?? newTotpSecret();
        if (password !== confirm)
          return form(reply, request.params, 422, secret, 'the two passwords differ');
        const tenant = await tenantOfSlug(request.params.slug);
        const code = totpCode.trim();
        try {
          await authenticator.acceptInvitation(tenant, request.params.token, {
            password,
            totp: code === '' ? undefined : { secret, code },
          });
        } catch (error) {
          if (
            error instanceof PalisadeError &&
            (error.code === 'PALISADE_PASSWORD_REJECTED' ||
              error.code === 'PALISADE_INVALID_REQUEST')
          )
            return form(reply, request.params, error.status, secret, error.message);
          throw error;
        }
        return sendPage(reply, 200, invitationDone(tenant.name, code !== ''));
      },
    });
  }
}
