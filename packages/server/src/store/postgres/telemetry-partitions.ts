import type pg from 'pg';
import { PalisadeError } from '../../errors/index.ts';

/** What the retention job asks of a shard's telemetry table. */
export interface TelemetryWindow {
  /**
   * Partitions cover at least `[from, to)` (Unix ms) once maintenance ran, from no earlier
   * than 1970 (no point is older) nor than the month of `dropBefore` (none is kept longer).
   */
  readonly from: number;
  readonly to: number;
  /** Partitions that end at or before this are dropped (no plan keeps points that old). */
  readonly dropBefore: number;
}

/** A month whose partition could not be made, and why. */
export interface PartitionFailure {
  readonly partition: string;
  readonly error: unknown;
}

const PARTITION = /^telemetry_p(\d{4})(\d{2})$/;

/** The SQLSTATE of a row no partition takes, shared with CHECK constraints (which name theirs). */
const CHECK_VIOLATION = '23514';

/** Serializes the making of partitions across the processes that share a shard. */
const CREATE_LOCK = "hashtext('palisade.telemetry-partitions')";

function monthStart(ms: number): Date {
  const d = new Date(ms);
  return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1));
}

function nextMonth(d: Date): Date {
  return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1));
}

function partitionName(d: Date): string {
  return `telemetry_p${d.getUTCFullYear()}${String(d.getUTCMonth() + 1).padStart(2, '0')}`;
}

/** Where the month of a partition called `name` ends (Unix ms); undefined for another table. */
export function partitionEnd(name: string): number | undefined {
  const match = PARTITION.exec(name);
  if (match === null) return undefined;
  return nextMonth(new Date(Date.UTC(Number(match[1]), Number(match[2]) - 1, 1))).getTime();
}

/**
 * Makes the monthly range partitions of `telemetry` that `window` lacks, as the shard's owning
 * role (the runtime role can create nothing). A month that fails is reported and the others
 * are still made; points of a month without a partition are refused at ingest.
 */
export async function createTelemetryPartitions(
  owner: pg.Client,
  window: TelemetryWindow,
): Promise<{ created: string[]; failed: PartitionFailure[] }> {
  const created: string[] = [];
  const failed: PartitionFailure[] = [];
  const existing = new Set(
    (
      await owner.query<{ name: string }>(
        `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
         WHERE i.inhparent = 'telemetry'::regclass`,
      )
    ).rows.map((r) => r.name),
  );
  // telemetryMaxPastMs may reach before 1970, or past what a Date holds: the months to make
  // start at the oldest a point can be and still be kept.
  const start = monthStart(Math.max(0, window.from, window.dropBefore));
  for (let month = start; month.getTime() < window.to; month = nextMonth(month)) {
    const name = partitionName(month);
    if (existing.has(name)) continue;
    try {
      if (await createPartition(owner, name, month)) created.push(name);
    } catch (error) {
      failed.push({ partition: name, error });
    }
  }
  return { created, failed };
}

/**
 * One month's partition, made apart and then attached: ATTACH PARTITION takes SHARE UPDATE
 * EXCLUSIVE on the parent, which neither readers nor ingest conflict with, where CREATE
 * TABLE … PARTITION OF takes ACCESS EXCLUSIVE, so it would wait for every open reader while
 * every insert queued behind it. Like its parent the partition has RLS FORCEd, and no grant
 * to the runtime role, which reaches rows only through the parent's policy. Answers false
 * when another process made it first.
 */
async function createPartition(owner: pg.Client, name: string, month: Date): Promise<boolean> {
  await owner.query('BEGIN');
  try {
    await owner.query(`SELECT pg_advisory_xact_lock(${CREATE_LOCK})`);
    const made = await owner.query(
      'SELECT 1 FROM pg_class WHERE oid = to_regclass($1) AND relispartition',
      [name],
    );
    if (made.rows.length === 0)
      await owner.query(
        `CREATE TABLE ${name} (LIKE telemetry INCLUDING ALL);
         ALTER TABLE ${name} ENABLE ROW LEVEL SECURITY; ALTER TABLE ${name} FORCE ROW LEVEL SECURITY;
         ALTER TABLE telemetry ATTACH PARTITION ${name}
           FOR VALUES FROM (${month.getTime()}) TO (${nextMonth(month).getTime()})`,
      );
    await owner.query('COMMIT');
    return made.rows.length === 0;
  } catch (error) {
    await owner.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

/**
 * What an insert of `points` into `telemetry` threw, as ingest should see it: a point whose
 * month has no partition (making it failed, see TelemetryPartitionUpkeep) is refused with a
 * code of its own rather than as an internal error; anything else is answered as it is.
 */
export function insertError(error: unknown, points: readonly { readonly ts: number }[]): unknown {
  const { code, table, constraint } = error as {
    code?: string;
    table?: string;
    constraint?: string;
  };
  if (code !== CHECK_VIOLATION || table !== 'telemetry' || constraint !== undefined) return error;
  const months = [...new Set(points.map((p) => new Date(p.ts).toISOString().slice(0, 7)))];
  return new PalisadeError(
    'PALISADE_TELEMETRY_PARTITION_MISSING',
    `no telemetry partition holds one of the months ${months.join(', ')} (making it failed; the server log says why): nothing was stored, send it again later`,
  );
}
