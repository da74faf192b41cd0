import { isDeepStrictEqual } from 'node:util';

/**
 * A change of a device's shared attributes, as ThingsBoard firmware hears of it on
 * `v1/devices/me/attributes` (a gateway on `v1/gateway/attributes` for its child): the new
 * value of each key set or changed, and the names of the keys removed.
 */
export interface SharedAttributeChange {
  readonly tenantId: string;
  readonly deviceId: string;
  readonly changed: Readonly<Record<string, unknown>>;
  readonly deleted: readonly string[];
}

/** The change from `before` to `after`; undefined when both hold the same values. */
export function sharedAttributeChange(
  tenantId: string,
  deviceId: string,
  before: Readonly<Record<string, unknown>>,
  after: Readonly<Record<string, unknown>>,
): SharedAttributeChange | undefined {
  const changed: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(after))
    if (!Object.hasOwn(before, key) || !isDeepStrictEqual(before[key], value)) changed[key] = value;
  const deleted = Object.keys(before).filter((key) => !Object.hasOwn(after, key));
  if (Object.keys(changed).length === 0 && deleted.length === 0) return undefined;
  return { tenantId, deviceId, changed, deleted };
}

/** Told of each committed change of shared attributes (the platform routes it to devices). */
export type SharedAttributeListener = (change: SharedAttributeChange) => void;
