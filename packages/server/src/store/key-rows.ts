import type { DataKeyRow, KeyJobRow, TenantKekRow } from './key-types.ts';
import { iso } from './row-values.ts';

/** A data-key row as either backend returns it (keys as Uint8Array or Buffer). */
export interface DataKeyDbRow {
  key_id: string;
  version: number;
  kek_version: number;
  wrapped: Uint8Array | null;
  sealed_secret: Uint8Array | null;
  state: DataKeyRow['state'];
  encryptions: number;
  created_at: string | Date;
  retired_at: string | Date | null;
}

/** A key-job row as either backend returns it (PostgreSQL casts `processed` to float8). */
export interface KeyJobDbRow {
  id: string;
  key_id: string;
  target_version: number;
  state: KeyJobRow['state'];
  processed: number;
  created_at: string | Date;
  updated_at: string | Date;
  finished_at: string | Date | null;
  error: string | null;
}

/** A tenant-KEK row as either backend returns it. */
export interface KekDbRow {
  tenant_id: string;
  version: number;
  public_key: Uint8Array;
  sealed_seed: Uint8Array;
  created_at: string | Date;
}

export function toDataKey(row: DataKeyDbRow): DataKeyRow {
  return {
    keyId: row.key_id,
    version: row.version,
    kekVersion: row.kek_version,
    wrapped: row.wrapped,
    sealedSecret: row.sealed_secret,
    state: row.state,
    encryptions: row.encryptions,
    createdAt: iso(row.created_at),
    retiredAt: row.retired_at === null ? null : iso(row.retired_at),
  };
}

export function toKeyJob(row: KeyJobDbRow): KeyJobRow {
  return {
    id: row.id,
    keyId: row.key_id,
    targetVersion: row.target_version,
    state: row.state,
    processed: row.processed,
    createdAt: iso(row.created_at),
    updatedAt: iso(row.updated_at),
    finishedAt: row.finished_at === null ? null : iso(row.finished_at),
    error: row.error,
  };
}

export function toKek(row: KekDbRow): TenantKekRow {
  return {
    tenantId: row.tenant_id,
    version: row.version,
    publicKey: row.public_key,
    sealedSeed: row.sealed_seed,
    createdAt: iso(row.created_at),
  };
}

/** Parameters of a key-job write: id, key, target version, state, progress, times, error. */
export function keyJobParams(row: KeyJobRow) {
  return [
    row.id,
    row.keyId,
    row.targetVersion,
    row.state,
    row.processed,
    row.createdAt,
    row.updatedAt,
    row.finishedAt,
    row.error,
  ] as const;
}
