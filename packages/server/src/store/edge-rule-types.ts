/**
 * Storage of edge rules: one rule set per device type of a tenant, which the tenant's edge
 * nodes pull down and apply to the telemetry of their devices of that type.
 */

/** The rules of one device type (validated before they are stored). */
export interface EdgeRuleSetRow {
  readonly deviceType: string;
  readonly rules: readonly unknown[];
  readonly createdAt: string;
  readonly updatedAt: string;
}

/** Edge rule reads of one tenant's store. */
export interface TenantEdgeRuleReader {
  getRuleSet(deviceType: string): Promise<EdgeRuleSetRow | undefined>;
  /** Rule sets by device type, after `after`, at most `limit`. */
  listRuleSets(after: string | undefined, limit: number): Promise<EdgeRuleSetRow[]>;
}

/** Edge rule writes inside the tenant's transaction; each is one atomic statement. */
export interface TenantEdgeRuleWriter extends TenantEdgeRuleReader {
  /** Inserts or replaces the rule set of its device type. */
  putRuleSet(row: EdgeRuleSetRow): Promise<void>;
  /** True when a rule set was deleted. */
  deleteRuleSet(deviceType: string): Promise<boolean>;
}
