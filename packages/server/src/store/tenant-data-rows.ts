import { iso, json } from './row-values.ts';
import type { CollectionRow, ConditionalWrite, LedgerEntryRow, RecordRow } from './types.ts';

/** The record columns, in the order every record query selects them. */
export const RECORD_COLUMNS =
  'collection, id, data, version, created_at, updated_at, sealed, blind, key_version';

/** A collection row as either backend returns it. */
export interface CollectionDbRow {
  name: string;
  schema: string | Record<string, unknown>;
  encrypted: string | string[];
  version: number;
  created_at: string | Date;
  updated_at: string | Date;
}

export function toCollection(row: CollectionDbRow): CollectionRow {
  return {
    name: row.name,
    schema: json(row.schema),
    encrypted: json(row.encrypted),
    version: row.version,
    createdAt: iso(row.created_at),
    updatedAt: iso(row.updated_at),
  };
}

/** Parameters of a collection upsert: name, schema, encrypted fields, version, created, updated. */
export function collectionParams(row: CollectionRow) {
  return [
    row.name,
    JSON.stringify(row.schema),
    JSON.stringify(row.encrypted),
    row.version,
    row.createdAt,
    row.updatedAt,
  ] as const;
}

/** A ledger entry row as either backend returns it (PostgreSQL casts its bigints to float8). */
export interface EntryDbRow {
  seq: number;
  batch: number;
  resource: string;
  entry: string;
  salt: Uint8Array | null;
}

export function toEntry(row: EntryDbRow): LedgerEntryRow {
  return {
    seq: row.seq,
    batch: row.batch,
    resource: row.resource,
    entry: row.entry,
    salt: row.salt,
  };
}

/** A conditional record write that matched no row: the record is gone, or at another version. */
export function refusedWrite(current: RecordRow | undefined): ConditionalWrite<RecordRow> {
  return { ok: false, reason: current === undefined ? 'not-found' : 'version-mismatch' };
}
