import type pg from 'pg';
import { partitionEnd } from './telemetry-partitions.ts';

interface MonthTable {
  readonly name: string;
  /** A partition of `telemetry` (detach pending included), or a table detached from it. */
  readonly attached: boolean;
  /** A DETACH … CONCURRENTLY was interrupted (a crash, a cancel) before it finished. */
  readonly pending: boolean;
}

/**
 * Drops the monthly partitions that end at or before `before` without holding ingest up. A
 * plain DROP or DETACH takes ACCESS EXCLUSIVE on the parent: it waits for every open
 * transaction that read `telemetry`, and every insert queues behind it. DETACH … CONCURRENTLY
 * takes SHARE UPDATE EXCLUSIVE instead and waits only for the transactions that may still
 * read the partition; then the detached table, which no one else reaches, is dropped. It
 * refuses a transaction block and a parent with a default partition (shard migration 18
 * removed it). An interrupted detach leaves its partition "detach pending", unseen by new
 * queries and in the way of any other concurrent detach, so it is FINALIZEd first; a table
 * detached but not yet dropped is dropped with the others. Answers the tables dropped.
 */
export async function dropTelemetryPartitions(owner: pg.Client, before: number): Promise<string[]> {
  const tables = await monthTables(owner);
  for (const table of tables.filter((t) => t.pending))
    await owner.query(`ALTER TABLE telemetry DETACH PARTITION ${table.name} FINALIZE`);
  const expired = tables.filter(
    (t) => (partitionEnd(t.name) ?? Number.POSITIVE_INFINITY) <= before,
  );
  for (const table of expired.filter((t) => t.attached && !t.pending))
    await owner.query(`ALTER TABLE telemetry DETACH PARTITION ${table.name} CONCURRENTLY`);
  for (const table of expired) await owner.query(`DROP TABLE ${table.name}`);
  return expired.map((t) => t.name);
}

/** The month tables beside `telemetry`: its partitions, and any detached from it. */
async function monthTables(owner: pg.Client): Promise<MonthTable[]> {
  const { rows } = await owner.query<MonthTable>(
    `SELECT c.relname AS name, i.inhrelid IS NOT NULL AS attached,
            coalesce(i.inhdetachpending, false) AS pending
     FROM pg_class c LEFT JOIN pg_inherits i ON i.inhrelid = c.oid
     WHERE c.relkind = 'r' AND c.relname ~ '^telemetry_p[0-9]{6}$'
       AND c.relnamespace = (SELECT relnamespace FROM pg_class WHERE oid = 'telemetry'::regclass)`,
  );
  return rows;
}
