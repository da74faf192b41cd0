import type { NodeKey, TreeNode } from '@palisade/ledger';

/** A tenant checkpoint as sealed into the platform log. */
export interface SealedTenantCheckpoint {
  readonly tenantId: string;
  /** The tenant log size the checkpoint commits to. */
  readonly tenantSize: number;
  /** The checkpoint text (C2SP tlog-checkpoint): the platform log leaf is its leaf hash. */
  readonly text: string;
  /** The same checkpoint as a signed note. */
  readonly note: string;
  /** Its leaf index in the platform log. */
  readonly index: number;
}

/** A signed platform checkpoint, with any witness cosignatures appended to the note. */
export interface PlatformCheckpointRow {
  readonly size: number;
  readonly note: string;
}

/**
 * A new ledger signing key put in place of one that was lost (`palisade ledger new-key`):
 * kept in the platform log, append-only, so an auditor sees when the key changed and why
 * checkpoints after `size` carry other signatures.
 */
export interface LedgerKeyChange {
  /** Size of the platform log when the key changed: later checkpoints use the new key. */
  readonly size: number;
  /** The latest platform checkpoint then, signed by the old key (its signature lines name it). */
  readonly previousNote: string;
  /** The new key's verifier keys. */
  readonly vkeys: readonly string[];
  /** ISO time of the change. */
  readonly at: string;
}

/** Everything one seal adds, written atomically. */
export interface PlatformSeal {
  readonly leaves: readonly SealedTenantCheckpoint[];
  readonly nodes: readonly TreeNode[];
  readonly checkpoint: PlatformCheckpointRow;
}

/**
 * The platform log: one leaf per sealed tenant checkpoint, its subtree hashes, and the
 * signed platform checkpoints. Append-only, like the tenant logs.
 */
export interface PlatformLogStore {
  migrate(): Promise<void>;
  close(): Promise<void>;
  size(): Promise<number>;
  readNodes(keys: readonly NodeKey[]): Promise<Uint8Array[]>;
  appendSeal(seal: PlatformSeal): Promise<void>;
  latestCheckpoint(): Promise<PlatformCheckpointRow | undefined>;
  /** Replaces the note of checkpoint `size` with one carrying more (cosignature) lines. */
  replaceCheckpointNote(size: number, note: string): Promise<void>;
  latestTenantCheckpoint(tenantId: string): Promise<SealedTenantCheckpoint | undefined>;
  /** The last sealed tenant log size of every tenant ever sealed. */
  sealedTenantSizes(): Promise<Map<string, number>>;
  /** Records a new signing key in place of a lost one. */
  appendKeyChange(change: LedgerKeyChange): Promise<void>;
  /** Every key change, oldest first. */
  keyChanges(): Promise<LedgerKeyChange[]>;
}
