/**
 * Local rules of an edge node, set per device type on the platform and synced down. A rule
 * set is an ordered list: each message's values pass through the rules in order, so a rule
 * sees what the rules before it made (a `scale` after a `rename` names the new key).
 */

/** Keep only `keep`, or remove `drop` (exactly one of them). */
export interface FilterRule {
  readonly kind: 'filter';
  readonly keep?: readonly string[];
  readonly drop?: readonly string[];
}

/** Move the value of `from` to `to`. */
export interface RenameRule {
  readonly kind: 'rename';
  readonly from: string;
  readonly to: string;
}

/** Unit conversion: a number `v` of `key` becomes `v * factor + offset`. */
export interface ScaleRule {
  readonly kind: 'scale';
  readonly key: string;
  readonly factor: number;
  readonly offset: number;
}

/** Send `key` only when it changed by at least `delta` since the last value sent (0: on any change). */
export interface DeadbandRule {
  readonly kind: 'deadband';
  readonly key: string;
  readonly delta: number;
}

export type Aggregate = 'mean' | 'min' | 'max' | 'sum' | 'count' | 'last';

/** Replace the numbers of `key` by one aggregate per `windowMs` window (stamped at its start). */
export interface DownsampleRule {
  readonly kind: 'downsample';
  readonly key: string;
  readonly windowMs: number;
  readonly aggregate: Aggregate;
}

/** Fire `name` when a number of `key` goes above `above` or below `below`; clear when back. */
export interface AlertRule {
  readonly kind: 'alert';
  readonly name: string;
  readonly key: string;
  readonly above?: number;
  readonly below?: number;
}

export type Rule = FilterRule | RenameRule | ScaleRule | DeadbandRule | DownsampleRule | AlertRule;

/** The rules of one device type, as the platform stores and the node caches them. */
export interface RuleSet {
  readonly deviceType: string;
  readonly rules: readonly Rule[];
  readonly updatedAt: string;
}

/** A device assigned to the node, and its type (which names its rule set). */
export interface DeviceType {
  readonly id: string;
  readonly type: string;
}

/** What the node pulls: the rule sets of its devices' types, its devices, and their revision. */
export interface RuleBook {
  readonly revision: string;
  readonly ruleSets: readonly RuleSet[];
  readonly devices: readonly DeviceType[];
}

/** Most rules in one rule set. */
export const RULES_MAX = 64;
/** Most keys a filter names. */
export const FILTER_KEYS_MAX = 256;
/** Longest downsample window: one day. */
export const WINDOW_MAX_MS = 86_400_000;
