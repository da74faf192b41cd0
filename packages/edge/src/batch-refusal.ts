import type { Refusal } from './outbox-quarantine.ts';
import type { PlatformRefusedError } from './platform-call.ts';

/** A failing field inside one message of a batch: `/body/messages/{index}…`. */
const MESSAGE_PATH = /^\/body\/messages\/(\d+)(?:\/|$)/;

const BATCH_CONFLICT = 'PALISADE_EDGE_BATCH_CONFLICT';

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
 * platform applied with other content (409 PALISADE_EDGE_BATCH_CONFLICT), or messages the
 * platform names as invalid (400, 422). Anything else (a refusal of the node, such as a 409
 * for a second copy of its directory, a quota, a refusal of the batch's form
 * rather than of a message, or an answer that is no problem document of the platform's, such
 * as a proxy's) is not: the batch waits in the queue and the node tries again, since every
 * batch would meet the same.
 */
export function refusedForGood(error: PlatformRefusedError): RefusedForGood | undefined {
  const { problem, status } = error;
  if (problem === undefined || ![400, 409, 422].includes(status)) return undefined;
  if (status === 409 && problem.code !== BATCH_CONFLICT) return undefined;
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

/** The platform's answer to a batch it took (200): what it applied and what it refused by index. */
export interface AppliedAnswer {
  readonly batchId: string;
  readonly applied: number;
  readonly points: number;
  readonly refused: readonly { readonly index: number; readonly code: string }[];
}

/**
 * The platform's answer to batch `batchId` in a 200's `text`, or undefined when it is none
 * (a proxy's or captive portal's page, an answer to another batch): confirming on such a page
 * would delete messages nobody applied.
 */
export function appliedAnswer(text: string, batchId: string): AppliedAnswer | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const answer = parsed as Record<string, unknown>;
  const refused = answer.refused;
  if (
    answer.batchId !== batchId ||
    !Number.isInteger(answer.applied) ||
    !Number.isInteger(answer.points) ||
    !Array.isArray(refused) ||
    !refused.every(
      (r: { index?: unknown; code?: unknown }) =>
        Number.isInteger(r?.index) && typeof r?.code === 'string',
    )
  )
    return undefined;
  return parsed as AppliedAnswer;
}

/**
 * The messages the platform refused by index in its answer to a batch of `count` messages
 * that it applied, one group per code, so the operator can retry those a platform change
 * makes acceptable (a device assigned to the node) apart from the rest. The batch id is
 * spent: no resend under it can apply them.
 */
export function refusedByIndex(answer: AppliedAnswer, count: number): RefusedForGood[] {
  const byCode = new Map<string, Set<number>>();
  for (const { index, code } of answer.refused) {
    if (index < 0 || index >= count) continue;
    const indexes = byCode.get(code) ?? new Set<number>();
    byCode.set(code, indexes.add(index));
  }
  const at = new Date().toISOString();
  return [...byCode].map(([code, set]) => {
    const messages = [...set].sort((a, b) => a - b);
    const refusal = {
      at,
      status: 200,
      code,
      detail: `the platform applied batch ${answer.batchId} but refused ${messages.length} of its messages by index`,
      errors: messages
        .slice(0, ERRORS_MAX)
        .map((i) => ({ path: `/body/messages/${i}`, message: code })),
    };
    return { refusal, messages };
  });
}

/**
 * A batch of one message that the body limit refused (413) before any send of it could have
 * been applied: no smaller batch can carry the message, so it is set aside, named, rather
 * than sent again in front of every message behind it. A proxy's lower limit refuses the same
 * way; once it is raised, `palisade-edge quarantine retry` sends the message again.
 */
export function tooLargeForGood(error: PlatformRefusedError, bytes: number): RefusedForGood {
  const detail = `a single message makes a ${bytes}-byte batch, over the body limit of the platform or a proxy on the way`;
  return {
    refusal: {
      at: new Date().toISOString(),
      status: error.status,
      code: error.problem?.code ?? 'PALISADE_PAYLOAD_TOO_LARGE',
      detail:
        error.problem === undefined
          ? detail
          : `${detail}: ${error.problem.detail}`.slice(0, DETAIL_MAX_CHARS),
      errors: [{ path: '/body/messages/0', message: 'too large for any batch' }],
    },
    messages: [0],
  };
}
