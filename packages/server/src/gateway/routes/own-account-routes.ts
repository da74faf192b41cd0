import type { FastifyInstance } from 'fastify';
import {
  PASSWORD_MAX_LENGTH,
  totpBase32,
  totpIssuer,
  totpUri,
  type UserServices,
} from '../../users/index.ts';
import { signedInUserOf } from '../auth-hook.ts';
import { sendUser, USER } from './user-routes.ts';

const TAGS = ['users'];
/** A password as sent: its length in characters is checked by the policy, not the schema. */
const PASSWORD = { type: 'string', minLength: 1, maxLength: PASSWORD_MAX_LENGTH * 4 } as const;
const CODE = {
  type: 'string',
  pattern: '^[0-9]{6}$',
  description: 'the 6-digit code the authenticator app shows now',
} as const;
const ENROLMENT = {
  type: 'object',
  required: ['secret', 'otpauthUri'],
  properties: {
    secret: { type: 'string', description: 'the TOTP key in base32, shown this once' },
    otpauthUri: { type: 'string', description: 'the same key as an otpauth:// URI (a QR code)' },
  },
} as const;

function body(properties: Record<string, unknown>) {
  return {
    type: 'object',
    additionalProperties: false,
    required: Object.keys(properties),
    properties,
  } as const;
}

/**
 * The signed-in user's own account, `/v1/users/me…`: only a user's own access token may call
 * these, whatever its roles; the user is the token's subject (see OwnAccount).
 */
export function ownAccountRoutes(app: FastifyInstance, users: UserServices): void {
  const own = users.own;

  app.get('/v1/users/me', {
    config: { auth: 'user' },
    schema: {
      summary: 'The signed-in user (their own access token only)',
      tags: TAGS,
      response: { 200: USER },
    },
    handler: async (request, reply) =>
      sendUser(reply, await own.profile(signedInUserOf(request).context)),
  });

  app.post<{ Body: { currentPassword: string; newPassword: string } }>('/v1/users/me/password', {
    config: { auth: 'user' },
    schema: {
      summary:
        "Change the signed-in user's password: ends their other sign-ins, keeps the caller's",
      tags: TAGS,
      body: body({ currentPassword: PASSWORD, newPassword: PASSWORD }),
      response: { 200: USER },
    },
    handler: async (request, reply) => {
      const { context, signIn } = signedInUserOf(request);
      const { currentPassword, newPassword } = request.body;
      return sendUser(
        reply,
        await own.changePassword(context, signIn, currentPassword, newPassword),
      );
    },
  });

  app.post<{ Body: { currentPassword: string } }>('/v1/users/me/totp', {
    config: { auth: 'user' },
    schema: {
      summary:
        'Start enrolling TOTP: a new key, in force once POST /v1/users/me/totp/confirm gets a code of it',
      tags: TAGS,
      body: body({ currentPassword: PASSWORD }),
      response: { 201: ENROLMENT },
    },
    handler: async (request, reply) => {
      const { context } = signedInUserOf(request);
      const { secret, email } = await own.startTotp(context, request.body.currentPassword);
      try {
        return reply
          .code(201)
          .header('cache-control', 'no-store')
          .send({
            secret: totpBase32(secret),
            otpauthUri: totpUri(secret, totpIssuer(context.tenant.slug), email),
          });
      } finally {
        secret.fill(0);
      }
    },
  });

  app.post<{ Body: { code: string } }>('/v1/users/me/totp/confirm', {
    config: { auth: 'user' },
    schema: {
      summary:
        'Put the TOTP key being enrolled in force with a current code of it: ends the other sign-ins',
      tags: TAGS,
      body: body({ code: CODE }),
      response: { 200: USER },
    },
    handler: async (request, reply) => {
      const { context, signIn } = signedInUserOf(request);
      return sendUser(reply, await own.confirmTotp(context, signIn, request.body.code));
    },
  });

  app.post<{ Body: { currentPassword: string; totpCode: string } }>('/v1/users/me/totp/removal', {
    config: { auth: 'user' },
    schema: {
      summary:
        "Remove the signed-in user's TOTP, given their password and a current code: ends the other sign-ins",
      tags: TAGS,
      body: body({ currentPassword: PASSWORD, totpCode: CODE }),
      response: { 200: USER },
    },
    handler: async (request, reply) => {
      const { context, signIn } = signedInUserOf(request);
      const { currentPassword, totpCode } = request.body;
      return sendUser(reply, await own.removeTotp(context, signIn, currentPassword, totpCode));
    },
  });
}
