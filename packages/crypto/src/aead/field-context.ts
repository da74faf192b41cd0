/**
 * Where an encrypted field lives. The context is not stored in the ciphertext; it is bound to
 * it as associated data, so a ciphertext copied to another tenant, collection, record or
 * field fails to decrypt. Each string is length-prefixed, so no two different contexts
 * encode to the same bytes.
 */
import { ByteWriter, contextString, keyVersion } from '../internal/bytes.ts';

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

/** lp(tenantId) ‖ lp(collection) ‖ lp(recordId) ‖ lp(field) ‖ u32(keyVersion). */
export function encodeFieldContext(context: FieldContext, version: number): Buffer {
  return new ByteWriter()
    .shortBytes(contextString('tenantId', context?.tenantId))
    .shortBytes(contextString('collection', context.collection))
    .shortBytes(contextString('recordId', context.recordId))
    .shortBytes(contextString('field', context.field))
    .u32(keyVersion('keyVersion', version))
    .finish();
}

/** lp(tenantId) ‖ lp(collection) ‖ lp(field). */
export function encodeBlindIndexContext(context: BlindIndexContext): Buffer {
  return new ByteWriter()
    .shortBytes(contextString('tenantId', context?.tenantId))
    .shortBytes(contextString('collection', context.collection))
    .shortBytes(contextString('field', context.field))
    .finish();
}
