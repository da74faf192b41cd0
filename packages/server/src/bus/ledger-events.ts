import type { LedgerEntryRow, SealedTenantCheckpoint } from '../store/index.ts';
import type { BusEvent, BusKind } from './bus.ts';
import { keyToken } from './subjects.ts';

/**
 * What a write event carries on the bus: the ledger entry less its commitment. Never the
 * record's state — encrypted fields must not leave the store in plaintext, so a consumer
 * that needs the data reads it through the API, which decrypts for whoever may see it.
 */
export interface WriteEventPayload {
  readonly seq: number;
  readonly batch: number;
  readonly time: string;
  readonly actor: string;
  readonly action: string;
  readonly resource: string;
}

/** What a `ledger` checkpoint event carries: the tenant's signed checkpoint and its place. */
export interface CheckpointEventPayload {
  readonly size: number;
  /** Leaf index of the checkpoint in the platform log. */
  readonly index: number;
  readonly checkpoint: string;
}

/** Kind and key tokens of a ledger resource path; undefined for a resource not published. */
export function subjectOfResource(resource: string): { kind: BusKind; key: string[] } | undefined {
  const [head, ...rest] = resource.split('/');
  const key = (parts: readonly string[]) =>
    parts.length === 0 ? ['_'] : parts.slice(0, 4).map(keyToken);
  switch (head) {
    case 'collections':
      return rest[1] === 'records' && rest.length === 3
        ? { kind: 'record', key: key([rest[0]!, rest[2]!]) }
        : { kind: 'collection', key: key(rest) };
    case 'tenant':
      return { kind: 'tenant', key: ['self'] };
    case 'api-keys':
      return { kind: 'api-key', key: key(rest) };
    case 'keys':
      return { kind: 'key', key: key(rest) };
    case 'devices':
      return { kind: 'device', key: key(rest) };
    default:
      return undefined;
  }
}

/** The event of one committed ledger entry; its id is `<tenant>:<seq>`. */
export function eventOfEntry(tenantId: string, row: LedgerEntryRow): BusEvent | undefined {
  const subject = subjectOfResource(row.resource);
  if (subject === undefined) return undefined;
  // The entry is our own canonical JSON from the tenant's store; its form is checked where
  // the ledger is verified, so a plain parse serves the event.
  const entry = JSON.parse(row.entry) as { time: string; actor: string; action: string };
  const payload: WriteEventPayload = {
    seq: row.seq,
    batch: row.batch,
    time: entry.time,
    actor: entry.actor,
    action: entry.action,
    resource: row.resource,
  };
  return { ...subject, id: `${tenantId}:${row.seq}`, payload };
}

/** The `ledger` event of a sealed tenant checkpoint; its id is `<tenant>:checkpoint:<size>`. */
export function eventOfCheckpoint(sealed: SealedTenantCheckpoint): BusEvent {
  const payload: CheckpointEventPayload = {
    size: sealed.tenantSize,
    index: sealed.index,
    checkpoint: sealed.note,
  };
  return {
    kind: 'ledger',
    key: ['checkpoint'],
    id: `${sealed.tenantId}:checkpoint:${sealed.tenantSize}`,
    payload,
  };
}
