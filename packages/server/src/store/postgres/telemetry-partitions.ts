import type pg from 'pg';

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

const PARTITION = /^telemetry_p(\d{4})(\d{2})$/;

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

/**
 * Monthly range partitions of `telemetry`, run as the shard's owning role (the runtime role
 * can create nothing). Each new partition has RLS FORCEd like its parent and no grant to the
 * runtime role, which reaches rows only through the parent's policy. A month whose rows
 * already sit in the default partition is skipped (PostgreSQL refuses to split it).
 */
export async function maintainTelemetryPartitions(
  owner: pg.Client,
  window: TelemetryWindow,
): Promise<{ created: string[]; dropped: string[] }> {
  const created: string[] = [];
  const dropped: string[] = [];
  const existing = new Set(
    (
      await owner.query<{ name: string }>(
        `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
         JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'telemetry'`,
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
      await owner.query(
        `CREATE TABLE ${name} PARTITION OF telemetry FOR VALUES FROM (${month.getTime()}) TO (${nextMonth(month).getTime()});
         ALTER TABLE ${name} ENABLE ROW LEVEL SECURITY; ALTER TABLE ${name} FORCE ROW LEVEL SECURITY`,
      );
      created.push(name);
    } catch {
      // Rows of that month are in the default partition; they stay there until retention.
    }
  }
  for (const name of existing) {
    const match = PARTITION.exec(name);
    if (match === null) continue;
    const end = nextMonth(new Date(Date.UTC(Number(match[1]), Number(match[2]) - 1, 1)));
    if (end.getTime() > window.dropBefore) continue;
    await owner.query(`DROP TABLE ${name}`);
    dropped.push(name);
  }
  return { created, dropped };
}
