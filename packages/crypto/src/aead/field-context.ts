/**
 * Where an encrypted field lives. The context is not stored in the ciphertext; it is bound to
 * it as associated data, so a ciphertext copied to another tenant, collection, record or
 * field fails to decrypt. Each string is length-prefixed, so no two different contexts
 * encode to the same bytes.
 */
import { contextLength, keyVersion, writeShortString } from '../internal/bytes.ts';

/** The place an encrypted value belongs to; each string is 1..255 UTF-8 bytes. */
export interface FieldContext {
  /** The tenant that owns the record (from the authenticated credential). */
  readonly tenantId: string;
  /** The collection (table) name. */
  readonly collection: string;
  /** The record's primary key. */
  readonly recordId: string;
  /** The field name within the record. */
  readonly field: string;
}

/** The context of a blind index: no record id, so equal values match across records. */
export interface BlindIndexContext {
  readonly tenantId: string;
  readonly collection: string;
  readonly field: string;
}

/**
 * lp(tenantId) ‖ lp(collection) ‖ lp(recordId) ‖ lp(field) ‖ u32(keyVersion), after `room`
 * bytes the caller fills (the ciphertext header), so the associated data is one allocation.
 */
export function encodeFieldContext(context: FieldContext, version: number, room = 0): Buffer {
  const tenantId = contextLength('tenantId', context?.tenantId);
  const collection = contextLength('collection', context.collection);
  const recordId = contextLength('recordId', context.recordId);
  const field = contextLength('field', context.field);
  keyVersion('keyVersion', version);
  const out = Buffer.allocUnsafe(room + 4 + tenantId + collection + recordId + field + 4);
  let at = writeShortString(out, room, context.tenantId, tenantId);
  at = writeShortString(out, at, context.collection, collection);
  at = writeShortString(out, at, context.recordId, recordId);
  at = writeShortString(out, at, context.field, field);
  out.writeUInt32BE(version, at);
  return out;
}

/** lp(tenantId) ‖ lp(collection) ‖ lp(field). */
export function encodeBlindIndexContext(context: BlindIndexContext): Buffer {
  const tenantId = contextLength('tenantId', context?.tenantId);
  const collection = contextLength('collection', context.collection);
  const field = contextLength('field', context.field);
  const out = Buffer.allocUnsafe(3 + tenantId + collection + field);
  let at = writeShortString(out, 0, context.tenantId, tenantId);
  at = writeShortString(out, at, context.collection, collection);
  writeShortString(out, at, context.field, field);
  return out;
}
