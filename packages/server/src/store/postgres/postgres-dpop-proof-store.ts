import type pg from 'pg';
import type { DpopProofStore } from '../dpop-proof-types.ts';

/**
 * The accepted DPoP proofs in the control-plane database's UNLOGGED `dpop_proofs` (migration
 * 9): no WAL, so a commit waits for no flush, and PostgreSQL empties the table after its own
 * crash (and a standby has it empty), which loses at most a minute of proofs.
 */
export class PgDpopProofs implements DpopProofStore {
  readonly #pool: pg.Pool;

  constructor(pool: pg.Pool) {
    this.#pool = pool;
  }

  async remember(
    digest: Uint8Array,
    tenantId: string,
    until: number,
    now: number,
  ): Promise<boolean> {
    // A row whose window ended but is not swept yet is taken over, as if it had been.
    const result = await this.#pool.query(
      `INSERT INTO dpop_proofs (digest, tenant_id, until) VALUES ($1, $2, $3)
       ON CONFLICT (digest) DO UPDATE SET tenant_id = excluded.tenant_id, until = excluded.until
       WHERE dpop_proofs.until < $4`,
      [digest, tenantId, until, now],
    );
    return result.rowCount === 1;
  }

  async sweep(now: number, limit: number): Promise<number> {
    // Processes sweeping at once take different rows rather than wait for each other's.
    const result = await this.#pool.query(
      `DELETE FROM dpop_proofs WHERE digest IN (
         SELECT digest FROM dpop_proofs WHERE until < $1 ORDER BY until LIMIT $2
         FOR UPDATE SKIP LOCKED)`,
      [now, limit],
    );
    return result.rowCount ?? 0;
  }

  async eraseTenant(tenantId: string): Promise<void> {
    await this.#pool.query('DELETE FROM dpop_proofs WHERE tenant_id = $1', [tenantId]);
  }
}
