import { createHash } from 'node:crypto';
import { canonicalJson } from '@palisade/ledger';
import type { GroupCommitter } from '../commit/index.ts';
import { PalisadeError } from '../errors/index.ts';
import type { TenantStoreLocator } from '../records/index.ts';
import type { EdgeRuleSetRow, TenantReader } from '../store/index.ts';
import type { TenantContext } from '../tenancy/index.ts';
import { checkRules } from './edge-rule-schema.ts';
import type { EdgeNodeSession } from './node-authentication.ts';

/** What a node pulls: the rule sets of its devices' types, and its devices' types. */
export interface RuleBook {
  /** Changes whenever anything below changes (the node's `If-None-Match`). */
  readonly revision: string;
  readonly ruleSets: readonly Omit<EdgeRuleSetRow, 'createdAt'>[];
  readonly devices: readonly { readonly id: string; readonly type: string }[];
}

/** Devices of a node read per page while a rule book is made. */
const DEVICE_PAGE = 1000;

function ruleSetNotFound(): PalisadeError {
  return new PalisadeError(
    'PALISADE_EDGE_RULE_SET_NOT_FOUND',
    'no edge rules for this device type; create them with PUT /v1/edge-rules/{deviceType}',
  );
}

/**
 * Edge rules of a tenant: one ordered rule set per device type, ledgered on every change,
 * and the rule book an edge node pulls with its credential. A node gets only the rule sets
 * of the types of the devices assigned to it, and only from its own tenant (the node
 * credential names both).
 */
export class EdgeRuleService {
  readonly #locate: TenantStoreLocator;
  readonly #committer: GroupCommitter;

  constructor(options: { locate: TenantStoreLocator; committer: GroupCommitter }) {
    this.#locate = options.locate;
    this.#committer = options.committer;
  }

  async list(context: TenantContext, after: string | undefined, limit: number) {
    return (await this.#locate(context)).reader.edgeRules.listRuleSets(after, limit);
  }

  async get(context: TenantContext, deviceType: string): Promise<EdgeRuleSetRow> {
    const row = await (await this.#locate(context)).reader.edgeRules.getRuleSet(deviceType);
    if (row === undefined) throw ruleSetNotFound();
    return row;
  }

  /** Sets the rules of a device type (replacing any); `rules` passed the route's schema. */
  async put(
    context: TenantContext,
    deviceType: string,
    rules: readonly Record<string, unknown>[],
  ): Promise<EdgeRuleSetRow> {
    checkRules(rules);
    return this.#committer.submit(await this.#locate(context), async (tx, record) => {
      const now = new Date().toISOString();
      const prior = await tx.edgeRules.getRuleSet(deviceType);
      const row: EdgeRuleSetRow = {
        deviceType,
        rules,
        createdAt: prior?.createdAt ?? now,
        updatedAt: now,
      };
      await tx.edgeRules.putRuleSet(row);
      record({
        actor: context.actor.id,
        action: 'edge.rules.put',
        resource: `edge-rules/${deviceType}`,
        state: { deviceType, rules },
      });
      return row;
    });
  }

  async delete(context: TenantContext, deviceType: string): Promise<void> {
    await this.#committer.submit(await this.#locate(context), async (tx, record) => {
      if (!(await tx.edgeRules.deleteRuleSet(deviceType))) throw ruleSetNotFound();
      record({
        actor: context.actor.id,
        action: 'edge.rules.delete',
        resource: `edge-rules/${deviceType}`,
        state: { deviceType },
      });
    });
  }

  /** The rule book of an authenticated node. */
  async book({ store, node }: EdgeNodeSession): Promise<RuleBook> {
    const devices = await this.#devicesOf(store.reader, node.id);
    const types = [...new Set(devices.map((d) => d.type))].sort();
    const ruleSets: RuleBook['ruleSets'][number][] = [];
    for (const type of types) {
      const row = await store.reader.edgeRules.getRuleSet(type);
      if (row !== undefined)
        ruleSets.push({ deviceType: row.deviceType, rules: row.rules, updatedAt: row.updatedAt });
    }
    const revision = createHash('sha256')
      .update(canonicalJson({ ruleSets, devices }))
      .digest('base64url');
    return { revision, ruleSets, devices };
  }

  async #devicesOf(reader: TenantReader, nodeId: string) {
    const devices: { id: string; type: string }[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await reader.devices.listEdgeNodeDevices(nodeId, { after, limit: DEVICE_PAGE });
      for (const d of page) devices.push({ id: d.id, type: d.type });
      if (page.length < DEVICE_PAGE) return devices;
      after = page.at(-1)?.id;
    }
  }
}
