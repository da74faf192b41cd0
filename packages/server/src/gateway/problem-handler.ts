import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';
import { type ErrorCode, PalisadeError, type ProblemDetail } from '../errors/index.ts';
import { OverLimitError, rateLimitHeaders } from '../quotas/index.ts';

const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'PALISADE_PAYLOAD_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'PALISADE_UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'PALISADE_MALFORMED_JSON',
  FST_ERR_CTP_INVALID_JSON_BODY: 'PALISADE_MALFORMED_JSON',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'PALISADE_INVALID_REQUEST',
};

/** RFC 6750 §3 and RFC 9449 §7.1: a missing or refused credential is answered with a challenge. */
function bearerChallenge(code: ErrorCode): string | undefined {
  if (code === 'PALISADE_UNAUTHENTICATED') return 'Bearer';
  if (code === 'PALISADE_DPOP_PROOF_INVALID') return 'DPoP error="invalid_dpop_proof"';
  return code.startsWith('PALISADE_TOKEN_') ? 'Bearer error="invalid_token"' : undefined;
}

/** Sends an RFC 9457 problem document. */
export function sendProblem(reply: FastifyReply, error: PalisadeError): FastifyReply {
  if (error instanceof OverLimitError) reply.headers(rateLimitHeaders(error.quota));
  const challenge = bearerChallenge(error.code);
  if (challenge !== undefined) reply.header('www-authenticate', challenge);
  return reply.code(error.status).type('application/problem+json').send(error.toProblem());
}

/** A path id that is not a UUID has its own code (docs/errors.md), whichever route it is on. */
function isPathIdNotUuid(error: FastifyError): boolean {
  const failures = error.validation ?? [];
  return (
    error.validationContext === 'params' &&
    failures.length > 0 &&
    failures.every((v) => v.keyword === 'format' && v.params.format === 'uuid')
  );
}

function fromValidation(error: FastifyError): PalisadeError {
  const part = error.validationContext ?? 'body';
  if (isPathIdNotUuid(error)) {
    const path = `/params${error.validation?.[0]?.instancePath ?? ''}`;
    return new PalisadeError('PALISADE_INVALID_ID', `${path} is not a UUID`, [
      { path, message: 'is not a UUID' },
    ]);
  }
  const details: ProblemDetail[] = (error.validation ?? []).map((v) => {
    const params = v.params as { additionalProperty?: string; missingProperty?: string };
    const extra = params.additionalProperty ?? params.missingProperty;
    return {
      path: `/${part}${v.instancePath}${extra === undefined ? '' : `/${extra}`}`,
      message:
        params.additionalProperty !== undefined
          ? 'is not a known field'
          : (v.message ?? 'is invalid'),
    };
  });
  const first = details[0];
  const summary = first === undefined ? `the ${part} is invalid` : `${first.path} ${first.message}`;
  return new PalisadeError('PALISADE_INVALID_REQUEST', summary, details);
}

/**
 * Fastify's `frameworkErrors`: what its router refuses before any route or hook runs (a path
 * that is not valid percent-encoding, a path parameter over `maxParamLength`) as a problem
 * rather than Fastify's own JSON.
 */
export function frameworkProblem(error: FastifyError, reply: FastifyReply): FastifyReply {
  const message =
    error.code === 'FST_ERR_MAX_PARAM_LENGTH'
      ? 'a path segment is longer than any id or name'
      : 'the path is not valid percent-encoding';
  return sendProblem(reply, new PalisadeError('PALISADE_INVALID_REQUEST', message));
}

/** Maps every error a route can raise to a problem+json response; unknown ones are logged as 500s. */
export function installProblemHandlers(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error instanceof PalisadeError) {
      if (error.cause !== undefined) request.log.error({ err: error.cause }, error.message);
      return sendProblem(reply, error);
    }
    if (error.validation !== undefined) return sendProblem(reply, fromValidation(error));
    const mapped = error.code === undefined ? undefined : FASTIFY_CODES[error.code];
    if (mapped !== undefined) return sendProblem(reply, new PalisadeError(mapped, error.message));
    if (
      error instanceof SyntaxError ||
      (error.statusCode === 400 && /JSON|prototype/i.test(error.message))
    ) {
      return sendProblem(
        reply,
        new PalisadeError(
          'PALISADE_MALFORMED_JSON',
          `the body is not valid JSON: ${error.message}`,
        ),
      );
    }
    if (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500) {
      return sendProblem(reply, new PalisadeError('PALISADE_INVALID_REQUEST', error.message));
    }
    request.log.error({ err: error }, 'unhandled error');
    return sendProblem(
      reply,
      new PalisadeError('PALISADE_INTERNAL', 'internal error; the server log has the details'),
    );
  });
  app.setNotFoundHandler((request, reply) =>
    sendProblem(
      reply,
      new PalisadeError(
        'PALISADE_NOT_FOUND',
        `no route ${request.method} ${request.url.split('?')[0]}`,
      ),
    ),
  );
}
