import { existsSync } from 'node:fs';
import { DatabaseSync } from 'node:sqlite';
import { OUTBOX_BUSY_TIMEOUT_MS } from './outbox.ts';
import type { QuarantineCounts } from './outbox-quarantine.ts';

/** What `palisade-edge status` shows, read from the outbox file without writing to it. */
export interface OutboxStatus {
  /** Messages waiting (including any in a formed, unconfirmed batch), not those set aside. */
  readonly backlog: number;
  /** Unix ms of the oldest waiting message, or null when none waits. */
  readonly oldestReceivedAt: number | null;
  /** Messages in the batch formed and not yet confirmed (in flight or to be resent). */
  readonly inFlight: number;
  /** Batches the platform refused for good, set aside (`palisade-edge quarantine list`). */
  readonly quarantine: QuarantineCounts;
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
  quarantine: { batches: 0, messages: 0 },
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
    const columns = db.prepare('PRAGMA table_info(batches)').all() as { name: string }[];
    // An outbox no agent of this version has opened yet has no quarantine.
    const aside = columns.some((c) => c.name === 'quarantine')
      ? 'SELECT id FROM batches WHERE quarantine IS NOT NULL'
      : 'SELECT NULL WHERE 0';
    const counts = db
      .prepare(
        `SELECT count(*) FILTER (WHERE NOT q) AS n, min(received_at) FILTER (WHERE NOT q) AS t,
           count(batch_id) FILTER (WHERE NOT q) AS f, count(*) FILTER (WHERE q) AS qn,
           count(DISTINCT batch_id) FILTER (WHERE q) AS qb
         FROM (SELECT received_at, batch_id, coalesce(batch_id IN (${aside}), 0) AS q FROM messages)`,
      )
      .get() as { n: number; t: number | null; f: number; qn: number; qb: number };
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
      quarantine: { batches: Number(counts.qb), messages: Number(counts.qn) },
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
