import { BUS_KINDS, type BusEvent, type BusKind } from './bus.ts';
import { BusError } from './bus-error.ts';

/** Most tokens in an event key (`record` uses two: collection and id). */
export const BUS_KEY_TOKENS_MAX = 4;

/**
 * A subject token: no `.` (a separator), no `*` or `>` (wildcards), no whitespace, no `$`
 * (NATS-reserved). Anything else a resource name may hold is percent-encoded by `keyToken`.
 */
const TOKEN = /^[A-Za-z0-9_:%=-]{1,128}$/;
const DURABLE = /^[A-Za-z0-9_-]{1,64}$/;
const MESSAGE_ID = /^[\x21-\x7e]{1,256}$/;
/** No `_`: it separates tenant and durable in consumer names. */
const TENANT_ID = /^[A-Za-z0-9-]{1,64}$/;

export function isBusKind(kind: unknown): kind is BusKind {
  return typeof kind === 'string' && (BUS_KINDS as readonly string[]).includes(kind);
}

/** Encodes any string as one subject token (percent-encoding every other character). */
export function keyToken(text: string): string {
  if (text === '') return '_';
  return text.replace(/[^A-Za-z0-9_-]/g, (c) =>
    [...Buffer.from(c, 'utf8')]
      .map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`)
      .join(''),
  );
}

function checkTenant(tenantId: string): void {
  if (!TENANT_ID.test(tenantId))
    throw new BusError(
      'PALISADE_BUS_INVALID_SUBJECT',
      `tenant id ${JSON.stringify(tenantId)} is not a subject token`,
    );
}

/** Validates a durable consumer name; returns it. */
export function checkDurable(durable: unknown): string {
  if (typeof durable !== 'string' || !DURABLE.test(durable))
    throw new BusError(
      'PALISADE_BUS_INVALID_NAME',
      `durable ${JSON.stringify(durable)} must match ${DURABLE.source}`,
    );
  return durable;
}

/** An event checked at the boundary: kind, key tokens, id and the payload's JSON. */
export interface CheckedEvent {
  readonly tenantId: string;
  readonly kind: BusKind;
  readonly key: readonly string[];
  readonly subject: string;
  readonly id: string;
  readonly json: string;
}

/** Validates an event for `tenantId` and builds its subject under `prefix`. */
export function checkEvent(
  prefix: string,
  tenantId: string,
  event: BusEvent,
  maxPayload: number,
): CheckedEvent {
  checkTenant(tenantId);
  if (!isBusKind(event.kind))
    throw new BusError(
      'PALISADE_BUS_INVALID_SUBJECT',
      `kind ${JSON.stringify(event.kind)} is not one of ${BUS_KINDS.join(', ')}`,
    );
  const key: readonly unknown[] =
    typeof event.key === 'string' ? [event.key] : Array.isArray(event.key) ? event.key : [];
  if (key.length === 0 || key.length > BUS_KEY_TOKENS_MAX)
    throw new BusError(
      'PALISADE_BUS_INVALID_SUBJECT',
      `key must be 1 to ${BUS_KEY_TOKENS_MAX} tokens`,
    );
  for (const token of key) {
    if (typeof token !== 'string' || !TOKEN.test(token))
      throw new BusError(
        'PALISADE_BUS_INVALID_SUBJECT',
        `key token ${JSON.stringify(token)} must match ${TOKEN.source}`,
      );
  }
  if (typeof event.id !== 'string' || !MESSAGE_ID.test(event.id))
    throw new BusError(
      'PALISADE_BUS_INVALID_NAME',
      `message id ${JSON.stringify(event.id)} must be 1-256 printable ASCII characters`,
    );
  let json: string | undefined;
  try {
    json = JSON.stringify(event.payload);
  } catch (error) {
    throw new BusError('PALISADE_BUS_INVALID_PAYLOAD', 'payload is not JSON-serialisable', {
      cause: error,
    });
  }
  if (json === undefined)
    throw new BusError('PALISADE_BUS_INVALID_PAYLOAD', 'payload is not JSON-serialisable');
  if (Buffer.byteLength(json) > maxPayload)
    throw new BusError(
      'PALISADE_BUS_INVALID_PAYLOAD',
      `payload exceeds busMaxPayload (${maxPayload} bytes)`,
    );
  const tokens = key as readonly string[];
  return {
    tenantId,
    kind: event.kind,
    key: tokens,
    subject: [prefix, tenantId, event.kind, ...tokens].join('.'),
    id: event.id,
    json,
  };
}

/**
 * The filter of a consumer: a tenant's (`<root>.<tenant>.>`) or every tenant's
 * (`<root>.*.>`), optionally one kind. The tenant is always the context's or absent, never
 * a caller's string.
 */
export function filterSubject(
  prefix: string,
  tenantId: string | undefined,
  kind: BusKind | undefined,
): string {
  if (tenantId !== undefined) checkTenant(tenantId);
  if (kind !== undefined && !isBusKind(kind))
    throw new BusError(
      'PALISADE_BUS_INVALID_SUBJECT',
      `kind ${JSON.stringify(kind)} is not one of ${BUS_KINDS.join(', ')}`,
    );
  return [prefix, tenantId ?? '*', ...(kind === undefined ? [] : [kind]), '>'].join('.');
}

/** Splits a stored subject into its tenant, kind and key; undefined when it is not ours. */
export function parseSubject(
  prefix: string,
  subject: string,
): { tenantId: string; kind: BusKind; key: string[] } | undefined {
  const [root, tenantId, kind, ...key] = subject.split('.');
  if (root !== prefix || tenantId === undefined || !isBusKind(kind) || key.length === 0)
    return undefined;
  return { tenantId, kind, key };
}

/** The stored name of a durable consumer: tenants' names never collide with each other's or the platform's. */
export function consumerName(durable: string, tenantId: string | undefined): string {
  checkDurable(durable);
  if (tenantId === undefined) return `p_${durable}`;
  return `${tenantConsumerPrefix(tenantId)}${durable}`;
}

/** What the stored name of every durable consumer of the tenant starts with. */
export function tenantConsumerPrefix(tenantId: string): string {
  checkTenant(tenantId);
  return `t_${tenantId}_`;
}
