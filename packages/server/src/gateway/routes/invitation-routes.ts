import type { FastifyInstance, FastifyReply } from 'fastify';
import { PalisadeError } from '../../errors/index.ts';
import { OverLimitError, rateLimitHeaders, type SignInLimits } from '../../quotas/index.ts';
import type { Tenant } from '../../tenancy/index.ts';
import {
  INVITATION_PAGE_HEADERS,
  INVITATION_TOKEN_PATTERN,
  invitationDone,
  invitationForm,
  invitationProblem,
  newTotpSecret,
  PASSWORD_MAX_LENGTH,
  PASSWORD_MIN_LENGTH,
  totpBase32,
  totpIssuer,
  totpSecretFromBase32,
  totpUri,
  type UserServices,
} from '../../users/index.ts';
import { HTML_PAGE, SLUG } from '../schemas.ts';
import { signInAttempts } from '../sign-in-limit-hook.ts';

const TAGS = ['users'];

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
  limits: SignInLimits,
): void {
  const attempts = signInAttempts(limits);
  const authenticator = users.authenticator;

  async function tenantOfSlug(slug: string): Promise<Tenant> {
    const tenant = await tenantBySlug(slug);
    if (tenant?.status !== 'active')
      throw new PalisadeError(
        'PALISADE_INVITATION_INVALID',
        'this invitation link is unknown, used or expired; ask an admin of the tenant for a new one',
      );
    return tenant;
  }

  const unknownLink = () =>
    invitationProblem(
      'This link cannot be used',
      'this invitation link is unknown, used or expired; ask an admin of the tenant for a new one',
    );

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
        totpUri: totpUri(secret, totpIssuer(tenant.slug), invitation.email),
        minLength: PASSWORD_MIN_LENGTH,
        message,
      }),
    );
  }

  const errorHandler = (
    error: Error & { validation?: unknown; validationContext?: string },
    _request: unknown,
    reply: FastifyReply,
  ) => {
    // A malformed slug or token is just an unknown link.
    if (error.validationContext === 'params') return sendPage(reply, 404, unknownLink());
    if (error instanceof OverLimitError) {
      reply.headers(rateLimitHeaders(error.quota));
      return sendPage(reply, error.status, invitationProblem('Wait a moment', error.message));
    }
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
        response: { 200: HTML_PAGE },
      },
      errorHandler,
      handler: (request, reply) => form(reply, request.params, 200, newTotpSecret()),
    });

    app.post<{ Params: InvitationParams; Body: InvitationForm }>('/t/:slug/invite/:token', {
      config: { auth: 'public' },
      onRequest: attempts,
      schema: {
        summary: 'Accept an invitation (HTML form post): the link works once',
        tags: TAGS,
        params: INVITATION_PARAMS,
        response: { 200: HTML_PAGE },
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
