import type { Refusal } from './outbox-quarantine.ts';
import type { PlatformRefusedError } from './platform-call.ts';

/** A failing field inside one message of a batch: `/body/messages/{index}…`. */
const MESSAGE_PATH = /^\/body\/messages\/(\d+)(?:\/|$)/;

/** What of a refusal is kept beside a batch set aside: enough to say why, bounded. */
const DETAIL_MAX_CHARS = 500;
const ERRORS_MAX = 20;

/** What the platform refused for good in a batch, and the indexes of the messages it named. */
export interface RefusedForGood {
  readonly refusal: Refusal;
  readonly messages: readonly number[];
}

/**
 * Whether a refusal is of this batch's content, which no resend changes: a batch id the
 * platform applied with other content (409), or messages the platform names as invalid
 * (400, 422). Anything else (a refusal of the node, a quota, a refusal of the batch's form
 * rather than of a message, or an answer that is no problem document of the platform's, such
 * as a proxy's) is not: the batch waits in the queue and the node tries again, since every
 * batch would meet the same.
 */
export function refusedForGood(error: PlatformRefusedError): RefusedForGood | undefined {
  const { problem, status } = error;
  if (problem === undefined || ![400, 409, 422].includes(status)) return undefined;
  const messages = [...new Set(problem.errors.flatMap((e) => MESSAGE_PATH.exec(e.path)?.[1] ?? []))]
    .map(Number)
    .sort((a, b) => a - b);
  if (status !== 409 && messages.length === 0) return undefined;
  const refusal = {
    at: new Date().toISOString(),
    status,
    code: problem.code,
    detail: problem.detail.slice(0, DETAIL_MAX_CHARS),
    errors: problem.errors.slice(0, ERRORS_MAX),
  };
  return { refusal, messages };
}
