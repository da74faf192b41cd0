import type { EdgeAlertRow, EdgeBatchRow, EdgeNodeRow } from './edge-types.ts';
import { iso, json } from './row-values.ts';

/** The edge-node columns, in the order every node query selects them. */
export const NODE_COLUMNS =
  'id, name, status, ed25519, mldsa65, credential_hash, key_version, created_at, updated_at';

/** The edge-alert columns, in the order every alert query selects them. */
export const ALERT_COLUMNS = 'id, node_id, kind, batch_id, detail, created_at, count, last_seen_at';

/** An edge-node row as either backend returns it. */
export interface NodeDbRow {
  id: string;
  name: string;
  status: EdgeNodeRow['status'];
  ed25519: string | null;
  mldsa65: string | null;
  credential_hash: string | null;
  key_version: number;
  created_at: string | Date;
  updated_at: string | Date;
}

/** An edge alert row as either backend returns it. */
export interface AlertDbRow {
  id: string;
  node_id: string;
  kind: EdgeAlertRow['kind'];
  batch_id: string | null;
  detail: string | Record<string, unknown>;
  created_at: string | Date;
  count: number;
  last_seen_at: string | Date;
}

export function toNode(row: NodeDbRow): EdgeNodeRow {
  return {
    id: row.id,
    name: row.name,
    status: row.status,
    ed25519: row.ed25519,
    mldsa65: row.mldsa65,
    credentialHash: row.credential_hash,
    keyVersion: row.key_version,
    createdAt: iso(row.created_at),
    updatedAt: iso(row.updated_at),
  };
}

export function toAlert(row: AlertDbRow): EdgeAlertRow {
  return {
    id: row.id,
    nodeId: row.node_id,
    kind: row.kind,
    batchId: row.batch_id,
    detail: json(row.detail),
    createdAt: iso(row.created_at),
    count: row.count,
    lastSeenAt: iso(row.last_seen_at),
  };
}

/** Parameters of a node write, in NODE_COLUMNS order. */
export function nodeParams(row: EdgeNodeRow) {
  return [
    row.id,
    row.name,
    row.status,
    row.ed25519,
    row.mldsa65,
    row.credentialHash,
    row.keyVersion,
    row.createdAt,
    row.updatedAt,
  ] as const;
}

/**
 * Parameters of a batch insert: node, batch, content hash, signatures, result, applied at,
 * key version and sequence number.
 */
export function batchParams(row: EdgeBatchRow) {
  return [
    row.nodeId,
    row.batchId,
    row.contentHash,
    JSON.stringify(row.signatures),
    JSON.stringify(row.result),
    row.appliedAt,
    row.seq?.keyVersion ?? null,
    row.seq?.n ?? null,
  ] as const;
}

/** A stored batch's sequence number, from its two columns. */
export function seqOf(keyVersion: number | null, n: number | null): EdgeBatchRow['seq'] {
  return keyVersion === null || n === null
    ? null
    : { keyVersion: Number(keyVersion), n: Number(n) };
}

/** Parameters of an alert insert in ALERT_COLUMNS order. */
export function alertParams(row: EdgeAlertRow) {
  return [
    row.id,
    row.nodeId,
    row.kind,
    row.batchId,
    JSON.stringify(row.detail),
    row.createdAt,
    row.count,
    row.lastSeenAt,
  ] as const;
}
