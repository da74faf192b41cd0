/**
 * Storage of edge nodes: the nodes of a tenant with their public keys, one-time enrollment
 * tokens (hashed), the batches each node has had applied (for exactly-once), and the alerts
 * raised against a node (forged or conflicting batches, messages for devices not its own). Everything lives in the tenant's
 * own store; a node credential names its tenant, so no control-plane index is needed.
 */
import type { PageQuery } from './types.ts';

export type EdgeNodeStatus = 'pending' | 'active' | 'disabled';

/** An edge node as stored; its public keys are base64 SPKI DER. */
export interface EdgeNodeRow {
  readonly id: string;
  readonly name: string;
  /** `pending` after a rekey until the node enrolls again with new keys. */
  readonly status: EdgeNodeStatus;
  readonly ed25519: string | null;
  readonly mldsa65: string | null;
  /** SHA-256 of the node's bearer credential; null while pending. */
  readonly credentialHash: string | null;
  readonly keyVersion: number;
  readonly createdAt: string;
  readonly updatedAt: string;
}

/** A one-time enrollment token: a new node, or (with `nodeId`) the rekey of one. */
export interface EdgeEnrollmentTokenRow {
  readonly tokenHash: string;
  readonly name: string;
  readonly nodeId: string | null;
  readonly expiresAt: string;
  readonly createdAt: string;
}

/** A node's two signatures over one batch (base64). */
export interface EdgeSignatures {
  readonly ed25519: string;
  readonly mldsa65: string;
}

/** A batch applied once: what it contained (hash) and what the platform answered. */
export interface EdgeBatchRow {
  readonly nodeId: string;
  readonly batchId: string;
  /** SHA-256 (base64url) of the batch's canonical JSON without signatures. */
  readonly contentHash: string;
  /** The node's signatures over that content (base64), as the ledger entry commits to them. */
  readonly signatures: EdgeSignatures;
  readonly result: unknown;
  readonly appliedAt: string;
  /** The node's sequence number of the batch, and the node's key version it counts under. */
  readonly seq: { readonly keyVersion: number; readonly n: number } | null;
}

/**
 * Why a node was alerted: a batch whose signatures do not verify, a batch id replayed with
 * other content, messages for devices that were never assigned to the node, or a batch
 * sequence number used twice (two copies of the node's directory).
 */
export const EDGE_ALERT_KINDS = [
  'forged-signature',
  'batch-conflict',
  'device-not-assigned',
  'node-cloned',
] as const;
export type EdgeAlertKind = (typeof EDGE_ALERT_KINDS)[number];

/**
 * An alert: the evidence of its first occurrence (`batchId`, `detail`, `createdAt`), and how
 * often the same kind was raised against the node since, within the alert window.
 */
export interface EdgeAlertRow {
  readonly id: string;
  readonly nodeId: string;
  readonly kind: EdgeAlertKind;
  readonly batchId: string | null;
  readonly detail: Readonly<Record<string, unknown>>;
  readonly createdAt: string;
  /** Occurrences it stands for, the first included. */
  readonly count: number;
  /** When the last of them occurred. */
  readonly lastSeenAt: string;
}

/** Edge reads of one tenant's store. */
export interface TenantEdgeReader {
  getNode(id: string): Promise<EdgeNodeRow | undefined>;
  nodeByCredential(credentialHash: string): Promise<EdgeNodeRow | undefined>;
  listNodes(page: PageQuery): Promise<EdgeNodeRow[]>;
  getBatch(nodeId: string, batchId: string): Promise<EdgeBatchRow | undefined>;
  /** Alerts of a node, oldest first, after the `after` alert id. */
  listAlerts(nodeId: string, page: PageQuery): Promise<EdgeAlertRow[]>;
}

/** Edge writes, inside the tenant's transaction; each is one atomic statement. */
export interface TenantEdgeWriter extends TenantEdgeReader {
  insertToken(row: EdgeEnrollmentTokenRow): Promise<void>;
  /** Deletes the token if it is unexpired at `now`; the token, or undefined if unusable. */
  consumeToken(tokenHash: string, now: string): Promise<EdgeEnrollmentTokenRow | undefined>;
  /** Inserts or replaces the node row. */
  putNode(row: EdgeNodeRow): Promise<void>;
  /**
   * Reads the node and holds its row until the transaction ends: a change of its status or
   * credential by another transaction (a disable, a re-key) waits for this one, on every
   * process, so what this transaction read still stands when it commits.
   */
  holdNode(id: string): Promise<EdgeNodeRow | undefined>;
  /** The id of the node's batch applied with sequence number `n` under `keyVersion`, if any. */
  batchAtSeq(nodeId: string, keyVersion: number, n: number): Promise<string | undefined>;
  insertBatch(row: EdgeBatchRow): Promise<void>;
  insertAlert(row: EdgeAlertRow): Promise<void>;
  /**
   * Holds the node's alerts until the transaction ends (another transaction raising an alert
   * against the node waits, on every process), then reads the newest alert of this kind
   * against the node first raised at or after `since`: what it finds is still open, and what
   * it does not find nobody else inserts meanwhile.
   */
  holdOpenAlert(
    nodeId: string,
    kind: EdgeAlertKind,
    since: string,
  ): Promise<EdgeAlertRow | undefined>;
  /** Counts one more occurrence of the alert, seen at `seenAt`; the alert as it now stands. */
  repeatAlert(id: string, seenAt: string): Promise<EdgeAlertRow>;
}
