import type { GroupCommitter } from '../commit/index.ts';
import { PalisadeError } from '../errors/index.ts';
import type { ShardStore } from '../store/index.ts';
import type { Tenant } from '../tenancy/index.ts';

/** A ledger entry about an issuer change: who did what to which resource, and the new state. */
export interface IssuerEvent {
  readonly actor: string;
  readonly action: string;
  readonly resource: string;
  readonly state: unknown;
}

/**
 * Records issuer changes in the tenant's ledger. The change itself (a control-plane write)
 * runs inside the tenant's group-commit op, before the entry is recorded: when it throws,
 * no entry is written; when it succeeds, the entry commits with the next durable batch.
 */
export class TenantAudit {
  readonly #shards: ReadonlyMap<string, ShardStore>;
  readonly #committer: GroupCommitter;

  constructor(shards: ReadonlyMap<string, ShardStore>, committer: GroupCommitter) {
    this.#shards = shards;
    this.#committer = committer;
  }

  async change<T>(tenant: Tenant, event: IssuerEvent, apply: () => Promise<T>): Promise<T> {
    const shard = this.#shards.get(tenant.shard);
    if (shard === undefined)
      throw new PalisadeError('PALISADE_INTERNAL', `shard ${tenant.shard} is not open`);
    return this.#committer.submit(await shard.tenant(tenant.id), async (_tx, record) => {
      const result = await apply();
      record(event);
      return result;
    });
  }
}
