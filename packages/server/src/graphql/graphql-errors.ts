import type { FastifyBaseLogger } from 'fastify';
import { GraphQLError, type SourceLocation } from 'graphql';
import {
  type ErrorCode,
  type InputPlacer,
  PalisadeError,
  type ProblemDetail,
} from '../errors/index.ts';

/**
 * A service input that a field takes as its argument of the same name: the argument's name,
 * then, within a JSONObject, a JSON pointer (`end`, `schema/properties/ssn/pattern`).
 */
export const ARGUMENT_INPUT: InputPlacer = ({ input, at }) => `${input}${at}`;

/** One entry of a GraphQL response's `errors`, with Palisade's stable code. */
export interface GraphqlErrorBody {
  readonly message: string;
  readonly locations?: readonly SourceLocation[];
  readonly path?: readonly (string | number)[];
  readonly extensions: { readonly code: ErrorCode; readonly details?: readonly ProblemDetail[] };
}

function body(
  code: ErrorCode,
  message: string,
  source?: GraphQLError,
  details?: readonly ProblemDetail[],
): GraphqlErrorBody {
  return {
    message,
    ...(source?.locations === undefined ? {} : { locations: source.locations }),
    ...(source?.path === undefined ? {} : { path: source.path }),
    extensions: details === undefined ? { code } : { code, details },
  };
}

function internal(error: unknown, log: FastifyBaseLogger, source?: GraphQLError): GraphqlErrorBody {
  log.error({ err: error }, 'unhandled GraphQL error');
  return body('PALISADE_INTERNAL', 'internal error; the server log has the details', source);
}

/**
 * Maps whatever a GraphQL request raised to response errors: a PalisadeError keeps its code;
 * GraphQL's own parse, validation and input errors are PALISADE_GRAPHQL_INVALID; anything
 * else is logged and answered as PALISADE_INTERNAL without its message.
 */
export function graphqlErrors(error: unknown, log: FastifyBaseLogger): GraphqlErrorBody[] {
  if (error instanceof PalisadeError)
    return [body(error.code, error.message, undefined, error.errors)];
  if (error instanceof GraphQLError) {
    const original = error.originalError;
    if (original instanceof PalisadeError)
      return [body(original.code, original.message, error, original.errors)];
    if (original === undefined || original === null || original instanceof GraphQLError)
      return [body('PALISADE_GRAPHQL_INVALID', error.message, error)];
    return [internal(original, log, error)];
  }
  // mercurius reports validation failures as one error carrying GraphQL's list.
  const list = (error as { errors?: unknown }).errors;
  if (Array.isArray(list) && list.length > 0)
    return list.flatMap((inner) =>
      inner instanceof GraphQLError ? graphqlErrors(inner, log) : [internal(inner, log)],
    );
  return [internal(error, log)];
}
