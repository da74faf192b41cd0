import {
  appendLeaves,
  type BatchHeader,
  canonicalJson,
  commitState,
  encodeBatchLeaf,
  type LedgerEntry,
  rootFromLeafHashes,
  toBase64,
} from '@palisade/ledger';
import { nodeHasher, nodeSha256 } from '@palisade/ledger/node';
import type { WriteEvent } from '../commit/index.ts';
import { randomBytesFromPool } from '../ids/index.ts';
import type { LedgerEntryRow, TenantWriteTx } from '../store/index.ts';

/** Bytes of random salt per state commitment. */
const COMMITMENT_SALT_BYTES = 16;

/**
 * Turns one group commit's events into ledger entries, their batch header and one leaf of
 * the tenant's Merkle log, all written in the same transaction as the data. Entries commit
 * to the new state only as salted hashes; the salt stays in the tenant's store, so deleting
 * it (or the tenant's keys) leaves the ledger nothing readable. The ledger's end is held
 * until the transaction ends, so writers of one tenant on several processes append one after
 * the other instead of taking the same batch number. Answers the seq of the first entry.
 */
export async function sealBatch(
  tx: TenantWriteTx,
  tenantId: string,
  events: readonly WriteEvent[],
): Promise<number> {
  const head = await tx.holdLedgerHead();
  const time = new Date().toISOString();
  const rows: LedgerEntryRow[] = [];
  const hashes: Uint8Array[] = [];
  events.forEach((event, i) => {
    const salt = event.state === null ? null : randomBytesFromPool(COMMITMENT_SALT_BYTES);
    const entry: LedgerEntry = {
      seq: head.nextSeq + i,
      time,
      actor: event.actor,
      action: event.action,
      resource: event.resource,
      commitment: salt === null ? null : commitState(nodeSha256, salt, event.state),
    };
    const text = canonicalJson(entry);
    rows.push({ seq: entry.seq, batch: head.size, resource: event.resource, entry: text, salt });
    hashes.push(nodeHasher.leafHash(Buffer.from(text, 'utf8')));
  });
  const header: BatchHeader = {
    v: 1,
    tenant: tenantId,
    batch: head.size,
    firstSeq: head.nextSeq,
    count: events.length,
    time,
    entriesRoot: toBase64(rootFromLeafHashes(nodeHasher, hashes)),
  };
  const leaf = encodeBatchLeaf(header);
  const appended = await appendLeaves(nodeHasher, tx, head.size, [nodeHasher.leafHash(leaf)]);
  await tx.appendLedger({
    batch: head.size,
    leaf: Buffer.from(leaf).toString('utf8'),
    entries: rows,
    nodes: appended.nodes,
  });
  return head.nextSeq;
}
