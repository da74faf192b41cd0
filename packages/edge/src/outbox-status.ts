import { existsSync } from 'node:fs';
import { DatabaseSync } from 'node:sqlite';
import { OUTBOX_BUSY_TIMEOUT_MS } from './outbox.ts';

/** What `palisade-edge status` shows, read from the outbox file without writing to it. */
export interface OutboxStatus {
  /** Messages waiting (including any in a formed, unconfirmed batch). */
  readonly backlog: number;
  /** Unix ms of the oldest waiting message, or null when the outbox is empty. */
  readonly oldestReceivedAt: number | null;
  /** Messages in the batch formed and not yet confirmed (in flight or to be resent). */
  readonly inFlight: number;
  /** `up`, `down: <reason>`, or `unknown` before the first attempt. */
  readonly link: string;
  readonly lastAttempt: string | null;
  readonly lastSync: string | null;
  /** The platform's answer to the last confirmed batch. */
  readonly lastResult: unknown;
  /** Messages per second the platform confirmed over the minute before the last sync. */
  readonly drainRate: number | null;
}

const EMPTY: OutboxStatus = {
  backlog: 0,
  oldestReceivedAt: null,
  inFlight: 0,
  link: 'unknown',
  lastAttempt: null,
  lastSync: null,
  lastResult: null,
  drainRate: null,
};

/**
 * Reads an outbox's state through a read-only connection, so it is safe while the agent runs
 * (WAL readers never block the writer). A missing file is an empty, never-synced outbox.
 */
export function readOutboxStatus(path: string): OutboxStatus {
  if (!existsSync(path)) return EMPTY;
  const db = new DatabaseSync(path, { readOnly: true, timeout: OUTBOX_BUSY_TIMEOUT_MS });
  try {
    const counts = db
      .prepare(`SELECT count(*) AS n, min(received_at) AS t, count(batch_id) AS f FROM messages`)
      .get() as { n: number; t: number | null; f: number };
    const state = new Map(
      (db.prepare('SELECT k, v FROM sync_state').all() as { k: string; v: string }[]).map((r) => [
        r.k,
        r.v,
      ]),
    );
    const lastResult = state.get('lastResult');
    return {
      backlog: Number(counts.n),
      oldestReceivedAt: counts.t === null ? null : Number(counts.t),
      inFlight: Number(counts.f),
      link: state.get('link') ?? 'unknown',
      lastAttempt: state.get('lastAttempt') ?? null,
      lastSync: state.get('lastSync') ?? null,
      lastResult: lastResult === undefined ? null : JSON.parse(lastResult),
      drainRate: state.has('drainRate') ? Number(state.get('drainRate')) : null,
    };
  } finally {
    db.close();
  }
}
