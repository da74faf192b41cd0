import { existsSync } from 'node:fs';
import { DatabaseSync } from 'node:sqlite';

/** What `palisade-edge status` shows of the credential cache. */
export interface CredentialStatus {
  /** Devices whose credentials the node holds. */
  readonly devices: number;
  /** When the platform last gave the node its devices' credentials, or null if never. */
  readonly refreshedAt: string | null;
}

/** Reads the cache through a read-only connection (safe while the agent runs); no file is an empty cache. */
export function readCredentialStatus(path: string): CredentialStatus {
  if (!existsSync(path)) return { devices: 0, refreshedAt: null };
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    const { n } = db.prepare('SELECT count(*) AS n FROM devices').get() as { n: number };
    const row = db.prepare("SELECT v FROM cache_state WHERE k = 'refreshedAt'").get() as
      | { v: string }
      | undefined;
    return { devices: Number(n), refreshedAt: row?.v ?? null };
  } finally {
    db.close();
  }
}
