import type { GroupCommitter } from '../commit/index.ts';
import { PalisadeError } from '../errors/index.ts';
import type { PolicySetRow, TenantStore } from '../store/index.ts';
import type { TenantContext } from '../tenancy/index.ts';
import type { Authorizer } from './authorizer.ts';
import { validatePolicies } from './cedar-engine.ts';

type LocateStore = (context: TenantContext) => Promise<TenantStore>;

/**
 * A tenant's Cedar policy set: validated against the Palisade schema before it is stored,
 * stored with a ledger entry in the same transaction, and in force once the authorizer
 * forgets the tenant's previous set (at once in this process, within the credential
 * cache's TTL in others).
 */
export class PolicyService {
  readonly #locate: LocateStore;
  readonly #committer: GroupCommitter;
  readonly #authorizer: Authorizer;

  constructor(locate: LocateStore, committer: GroupCommitter, authorizer: Authorizer) {
    this.#locate = locate;
    this.#committer = committer;
    this.#authorizer = authorizer;
  }

  async get(context: TenantContext): Promise<PolicySetRow> {
    const row = await (await this.#locate(context)).reader.authz.getPolicySet();
    if (row === undefined)
      throw new PalisadeError(
        'PALISADE_POLICY_SET_NOT_FOUND',
        'the tenant has no policy set, so its roles alone decide; PUT /v1/policies sets one',
      );
    return row;
  }

  /** Replaces the policy set; throws PALISADE_POLICY_INVALID, storing nothing, if it does not validate. */
  async put(context: TenantContext, text: string): Promise<PolicySetRow> {
    const policies = validatePolicies(text);
    const store = await this.#locate(context);
    const row = await this.#committer.submit(store, async (tx, record) => {
      const existing = await tx.authz.getPolicySet();
      const next: PolicySetRow = {
        text,
        version: (existing?.version ?? 0) + 1,
        updatedAt: new Date().toISOString(),
      };
      await tx.authz.putPolicySet(next);
      record({
        actor: context.actor.id,
        action: existing === undefined ? 'policy-set.create' : 'policy-set.update',
        resource: 'policies',
        state: { text, policies: policies.length, version: next.version },
      });
      return next;
    });
    this.#authorizer.invalidate(context.tenantId);
    return row;
  }

  /** Removes the policy set: the tenant's roles alone decide again. */
  async delete(context: TenantContext): Promise<void> {
    const store = await this.#locate(context);
    await this.#committer.submit(store, async (tx, record) => {
      if (!(await tx.authz.deletePolicySet()))
        throw new PalisadeError('PALISADE_POLICY_SET_NOT_FOUND', 'the tenant has no policy set');
      record({
        actor: context.actor.id,
        action: 'policy-set.delete',
        resource: 'policies',
        state: null,
      });
    });
    this.#authorizer.invalidate(context.tenantId);
  }
}
