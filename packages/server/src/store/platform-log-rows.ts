import type { LedgerKeyChange, SealedTenantCheckpoint } from './platform-log-store.ts';

/** A platform-log leaf row as either backend returns it (PostgreSQL casts its bigints to float8). */
export interface LeafDbRow {
  idx: number;
  tenant_id: string;
  tenant_size: number;
  text: string;
  note: string;
}

export function toSealedCheckpoint(row: LeafDbRow): SealedTenantCheckpoint {
  return {
    tenantId: row.tenant_id,
    tenantSize: row.tenant_size,
    text: row.text,
    note: row.note,
    index: row.idx,
  };
}

/** A platform-log key change row as either backend returns it. */
export interface KeyChangeDbRow {
  size: number;
  previous_note: string;
  vkeys: string;
  at: string;
}

export function toKeyChange(row: KeyChangeDbRow): LedgerKeyChange {
  return {
    size: row.size,
    previousNote: row.previous_note,
    vkeys: JSON.parse(row.vkeys) as string[],
    at: row.at,
  };
}
