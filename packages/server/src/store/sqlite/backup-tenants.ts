/**
 * Which tenant files a backup (or a restore) keeps, decided by the control plane it holds.
 *
 * A tenant can be deleted while a backup runs. Deletion marks the tenant deleted, revokes its
 * API keys, destroys its KEKs (crypto-shredding) and only then removes its file; the backup
 * copies the tenant files before the control plane. So the copied control plane may show a
 * tenant deleted, its KEKs perhaps not yet destroyed, while its file was copied before the
 * deletion reached it. That file must not be in the backup: a restore would bring back the
 * data of a tenant whose erasure was already under way. Nor may the KEKs: with the master key
 * they would open whatever of the tenant's ciphertext the backup holds elsewhere.
 *
 * The copied control plane is the reference: a tenant file is kept only when the copy names
 * its tenant, not deleted, on that shard; a deleted tenant's deletion is finished in the copy
 * (its control-plane rows and KEKs destroyed) and in the copied bus (its messages erased). A tenant the copy names whose file is not there is
 * either one created after the files were listed (it starts empty, as it was) or one whose
 * deletion removed the file, which the copy shows deleted.
 */
import { DatabaseSync } from 'node:sqlite';
import { deleteTenantRows } from '../../bus/in-process/stream-file.ts';
import { TENANT_CONTROL_TABLES } from '../tenant-rows.ts';

/** A tenant file's path in a data folder or backup: `shards/<shard>/<tenant id>.db`. */
const TENANT_FILE = /^shards\/([^/]+)\/([^/]+)\.db$/;

/** The live (not deleted) tenants of a control-plane file: tenant id → shard. */
export type LiveTenants = ReadonlyMap<string, string>;

/** Whether `path` is a file the backup keeps: anything but a tenant file no live tenant owns. */
export function keepsFile(path: string, live: LiveTenants): boolean {
  const match = TENANT_FILE.exec(path);
  if (match === null) return true;
  return live.get(match[2]!) === match[1];
}

/** The live and the deleted tenants of the control-plane file at `platformDb`, read only. */
export function tenantsIn(platformDb: string): {
  live: LiveTenants;
  deleted: readonly string[];
} {
  const db = new DatabaseSync(platformDb, { readOnly: true });
  try {
    return { live: tenantsOf(db), deleted: deletedOf(db) };
  } finally {
    db.close();
  }
}

function deletedOf(db: DatabaseSync): string[] {
  const rows = db.prepare("SELECT id FROM tenants WHERE status = 'deleted'").all();
  return rows.map((row) => String(row.id));
}

function tenantsOf(db: DatabaseSync): Map<string, string> {
  const rows = db
    .prepare("SELECT id, shard FROM tenants WHERE status <> 'deleted'")
    .all() as unknown as { id: string; shard: string }[];
  return new Map(rows.map((row) => [row.id, row.shard]));
}

/**
 * Finishes, in the control-plane copy at `platformDb`, the deletion of every tenant it shows
 * deleted, as the live deletion ends it: the tenant's rows go (API keys, KEKs, credentials,
 * OIDC keys…), a nameless tombstone stays, and nothing of them is left in the file (secure
 * delete, then the write-ahead log folded in and removed). The live and the deleted tenants.
 */
export function settleDeletedTenants(
  platformDb: string,
  now: string,
): { live: LiveTenants; deleted: readonly string[] } {
  const db = new DatabaseSync(platformDb);
  try {
    db.exec('PRAGMA secure_delete = ON');
    db.exec('BEGIN IMMEDIATE');
    const deleted = "SELECT id FROM tenants WHERE status = 'deleted'";
    for (const table of TENANT_CONTROL_TABLES)
      db.exec(`DELETE FROM ${table} WHERE tenant_id IN (${deleted})`);
    db.prepare(
      "UPDATE tenants SET name = '', updated_at = ? WHERE status = 'deleted' AND name <> ''",
    ).run(now);
    db.exec('COMMIT');
    db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
    return { live: tenantsOf(db), deleted: deletedOf(db) };
  } finally {
    db.close();
  }
}

/**
 * Erases the deleted tenants' messages and consumers from the stream file (`bus.db`) at
 * `busDb`, as the live deletion erases them from the bus, leaving nothing of them in the file.
 */
export function eraseDeletedFromBus(busDb: string, deleted: readonly string[]): void {
  if (deleted.length === 0) return;
  const db = new DatabaseSync(busDb);
  try {
    db.exec('PRAGMA secure_delete = ON');
    db.exec('BEGIN IMMEDIATE');
    for (const tenant of deleted) deleteTenantRows(db, tenant);
    db.exec('COMMIT');
    db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
  } finally {
    db.close();
  }
}
