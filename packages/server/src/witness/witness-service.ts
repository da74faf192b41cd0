/**
 * The witness, without HTTP: turns an add-checkpoint body into a reply. The decision is the
 * ledger's pure `witnessAddCheckpoint`; this module adds what the spec leaves to the
 * implementation: requests for one origin run one at a time, the record is read from the
 * state file right before the decision, and the new record is stored durably, by
 * compare-and-swap, before the cosignature is returned.
 */
import {
  isLedgerError,
  type LedgerErrorCode,
  type NoteSigner,
  parseAddCheckpointRequest,
  type WitnessLog,
  type WitnessRecord,
  witnessAddCheckpoint,
} from '@palisade/ledger';
import { nodeHasher } from '@palisade/ledger/node';
import type { Logger } from 'pino';
import type { WitnessState } from './witness-state.ts';

/** Requests queued for one origin beyond which new ones are turned away with 503. */
export const MAX_PENDING_PER_ORIGIN = 32;

/** The `Content-Type` of a 409 body: the witness's size in decimal and a newline. */
export const TLOG_SIZE_CONTENT_TYPE = 'text/x.tlog.size';
const TEXT = 'text/plain; charset=utf-8';

/** An HTTP-shaped answer to an add-checkpoint request. */
export interface WitnessReply {
  readonly status: number;
  readonly contentType: string;
  readonly body: string;
}

/** HTTP status for each ledger error the decision can raise (C2SP tlog-witness). */
const STATUS: Partial<Record<LedgerErrorCode, number>> = {
  LEDGER_INVALID_ARGUMENT: 400,
  LEDGER_BAD_REQUEST: 400,
  LEDGER_BAD_NOTE: 400,
  LEDGER_BAD_CHECKPOINT: 400,
  LEDGER_UNKNOWN_KEY: 403,
  LEDGER_BAD_SIGNATURE: 403,
  LEDGER_UNKNOWN_LOG: 404,
  LEDGER_CONFLICT: 409,
  LEDGER_FORK: 409,
  LEDGER_INVALID_PROOF: 422,
};

/** What a {@link Witness} needs. */
export interface WitnessOptions {
  readonly state: WitnessState;
  readonly logs: readonly WitnessLog[];
  readonly signers: readonly NoteSigner[];
  readonly logger: Logger;
  /** Milliseconds since the epoch, for cosignature timestamps. */
  readonly now?: () => number;
}

function text(status: number, body: string): WitnessReply {
  return { status, contentType: TEXT, body: `${body}\n` };
}

function sizeReply(size: number): WitnessReply {
  return { status: 409, contentType: TLOG_SIZE_CONTENT_TYPE, body: `${size}\n` };
}

/** Answers add-checkpoint requests for the configured logs. */
export class Witness {
  readonly #options: WitnessOptions;
  readonly #origins: ReadonlySet<string>;
  /** Per origin: the tail of its request chain and how many requests wait on it. */
  readonly #queues = new Map<string, { tail: Promise<void>; pending: number }>();

  constructor(options: WitnessOptions) {
    this.#options = options;
    this.#origins = new Set(options.logs.map((log) => log.origin));
  }

  /** Handles one request body. Rejects only on an unexpected (non-ledger) error. */
  async addCheckpoint(body: string): Promise<WitnessReply> {
    let request: ReturnType<typeof parseAddCheckpointRequest>;
    try {
      request = parseAddCheckpointRequest(body);
    } catch (error) {
      return this.#refused(error, undefined);
    }
    const origin = request.checkpoint.slice(0, Math.max(0, request.checkpoint.indexOf('\n')));
    if (!this.#origins.has(origin)) return this.#decide(origin, request);
    return this.#serialized(origin, () => this.#decide(origin, request));
  }

  /** Resolves once every queued request has finished. */
  async idle(): Promise<void> {
    while (this.#queues.size > 0) await Promise.all([...this.#queues.values()].map((q) => q.tail));
  }

  #serialized(origin: string, task: () => Promise<WitnessReply>): Promise<WitnessReply> {
    const queue = this.#queues.get(origin) ?? { tail: Promise.resolve(), pending: 0 };
    if (queue.pending >= MAX_PENDING_PER_ORIGIN) {
      this.#options.logger.warn({ origin }, 'add-checkpoint queue full');
      return Promise.resolve(text(503, `too many pending requests for ${origin}; retry`));
    }
    queue.pending += 1;
    const result = queue.tail.then(task);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    queue.tail = tail;
    this.#queues.set(origin, queue);
    void tail.then(() => {
      queue.pending -= 1;
      if (queue.pending === 0) this.#queues.delete(origin);
    });
    return result;
  }

  async #decide(
    origin: string,
    request: ReturnType<typeof parseAddCheckpointRequest>,
  ): Promise<WitnessReply> {
    const { state, logs, signers, logger, now = Date.now } = this.#options;
    const stored = this.#origins.has(origin) ? state.get(origin) : undefined;
    const known = new Map<string, WitnessRecord>(stored === undefined ? [] : [[origin, stored]]);
    let result: Awaited<ReturnType<typeof witnessAddCheckpoint>>;
    try {
      result = await witnessAddCheckpoint(known, request, {
        hasher: nodeHasher,
        logs,
        witnessSigners: signers,
        now,
      });
    } catch (error) {
      return this.#refused(error, request.checkpoint);
    }
    if (!state.advance(origin, result.previous, result.record, request.checkpoint)) {
      const size = state.get(origin)?.size ?? 0;
      logger.info({ origin, size }, 'add-checkpoint lost a race; refused');
      return sizeReply(size);
    }
    logger.info(
      { origin, oldSize: request.oldSize, size: result.record.size },
      'cosigned checkpoint',
    );
    return { status: 200, contentType: TEXT, body: result.cosignatures };
  }

  #refused(error: unknown, checkpoint: string | undefined): WitnessReply {
    if (!isLedgerError(error)) throw error;
    const status = STATUS[error.code];
    if (status === undefined) throw error;
    const { logger } = this.#options;
    const fields = { code: error.code, reason: error.message };
    if (error.code === 'LEDGER_FORK' || error.code === 'LEDGER_INVALID_PROOF') {
      // The log signed this checkpoint and it does not extend what we cosigned: evidence.
      logger.warn({ ...fields, checkpoint }, 'refused a checkpoint that does not extend ours');
    } else {
      logger.info(fields, 'add-checkpoint refused');
    }
    if (status === 409) return sizeReply(error.size ?? 0);
    return text(status, error.message);
  }
}
