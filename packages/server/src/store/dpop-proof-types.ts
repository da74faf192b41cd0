/**
 * The DPoP proofs (RFC 9449) every API process of the platform accepted, kept until their
 * acceptance windows end so that no process accepts one again (§11.1). A proof is known only
 * by a 16-byte digest of its tenant, key and `jti`. Rows need not survive a crash of the
 * machine or database server (a proof's window is about a minute), so both backends keep them
 * without a flush per write: PostgreSQL in an UNLOGGED table, SQLite in a file of its own.
 */
export interface DpopProofStore {
  /**
   * Records the proof `digest` of `tenantId`, acceptable until `until` (epoch ms), in one
   * atomic step: true when it recorded it, false when that digest is recorded with a window
   * not ended at `now` (a replay). Of concurrent calls with one digest, from any processes,
   * exactly one gets true.
   */
  remember(digest: Uint8Array, tenantId: string, until: number, now: number): Promise<boolean>;
  /** Deletes at most `limit` proofs whose windows ended before `now`; how many it deleted. */
  sweep(now: number, limit: number): Promise<number>;
  /** Deletes every proof of a deleted tenant. */
  eraseTenant(tenantId: string): Promise<void>;
}
