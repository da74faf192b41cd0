import type { GroupCommitter } from '../commit/index.ts';
import { PalisadeError } from '../errors/index.ts';
import { uuid7 } from '../ids/index.ts';
import { readableRows, type TenantStoreLocator } from '../records/index.ts';
import type { ControlPlaneStore, EdgeNodeRow } from '../store/index.ts';
import type { TenantContext } from '../tenancy/index.ts';
import { publicKeyOf } from './batch-signature.ts';
import { hashEdgeSecret, newEdgeSecret } from './edge-credentials.ts';
import { actorOf, enrollingTenant, unauthenticated } from './node-authentication.ts';

export interface IssuedToken {
  readonly token: string;
  readonly expiresAt: string;
}

export interface Enrolled {
  readonly nodeId: string;
  readonly credential: string;
  readonly keyVersion: number;
}

function nodeNotFound(): PalisadeError {
  return new PalisadeError('PALISADE_EDGE_NODE_NOT_FOUND', 'no such edge node');
}

/**
 * The node registry of a tenant: enrollment by one-time token (a ledger entry recording the
 * node's public keys), listing, disabling, re-keying, and the node's alerts.
 */
export class EdgeNodes {
  readonly #controlPlane: ControlPlaneStore;
  readonly #locate: TenantStoreLocator;
  readonly #committer: GroupCommitter;
  readonly #enrollmentTtlMs: number;

  constructor(options: {
    controlPlane: ControlPlaneStore;
    locate: TenantStoreLocator;
    committer: GroupCommitter;
    enrollmentTtlMs: number;
  }) {
    this.#controlPlane = options.controlPlane;
    this.#locate = options.locate;
    this.#committer = options.committer;
    this.#enrollmentTtlMs = options.enrollmentTtlMs;
  }

  /** A one-time enrollment token for a new node called `name`; shown once, stored hashed. */
  async createToken(context: TenantContext, name: string): Promise<IssuedToken> {
    return this.#issueToken(context, name, null);
  }

  async #issueToken(
    context: TenantContext,
    name: string,
    nodeId: string | null,
  ): Promise<IssuedToken> {
    const token = newEdgeSecret('pe', context.tenantId);
    const now = Date.now();
    const expiresAt = new Date(now + this.#enrollmentTtlMs).toISOString();
    await this.#committer.submit(await this.#locate(context), async (tx) => {
      await tx.edge.insertToken({
        tokenHash: hashEdgeSecret(token),
        name,
        nodeId,
        expiresAt,
        createdAt: new Date(now).toISOString(),
      });
    });
    return { token, expiresAt };
  }

  /** Spends the token: records the node's public keys (a ledger entry) and issues its credential. */
  async enroll(token: string, keys: { ed25519: string; mldsa65: string }): Promise<Enrolled> {
    publicKeyOf('ed25519', keys.ed25519, 'ed25519');
    publicKeyOf('mldsa65', keys.mldsa65, 'ml-dsa-65');
    const context = await enrollingTenant(this.#controlPlane, token);
    const credential = newEdgeSecret('pn', context.tenantId);
    const node = await this.#committer.submit(await this.#locate(context), async (tx, record) => {
      const now = new Date().toISOString();
      const spent = await tx.edge.consumeToken(hashEdgeSecret(token), now);
      if (spent === undefined) throw unauthenticated();
      const prior = spent.nodeId === null ? undefined : await tx.edge.getNode(spent.nodeId);
      const row: EdgeNodeRow = {
        id: prior?.id ?? uuid7(),
        name: prior?.name ?? spent.name,
        status: 'active',
        ed25519: keys.ed25519,
        mldsa65: keys.mldsa65,
        credentialHash: hashEdgeSecret(credential),
        keyVersion: (prior?.keyVersion ?? 0) + 1,
        createdAt: prior?.createdAt ?? now,
        updatedAt: now,
      };
      await tx.edge.putNode(row);
      record({
        actor: actorOf(row.id),
        action: prior === undefined ? 'edge.enroll' : 'edge.rekey',
        resource: `edge-nodes/${row.id}`,
        state: { id: row.id, name: row.name, keyVersion: row.keyVersion, ...keys },
      });
      return row;
    });
    return { nodeId: node.id, credential, keyVersion: node.keyVersion };
  }

  /**
   * The first `limit` nodes after `after` that the caller may read (`readable`, by id), as if
   * no other existed, and whether another follows (see readableRows).
   */
  async list(
    context: TenantContext,
    after: string | undefined,
    limit: number,
    readable: (id: string) => boolean,
  ): Promise<{ items: EdgeNodeRow[]; more: boolean }> {
    const { edge } = (await this.#locate(context)).reader;
    return readableRows(
      (from, count) => edge.listNodes({ after: from, limit: count }),
      (row) => readable(row.id),
      after,
      limit,
    );
  }

  async get(context: TenantContext, id: string): Promise<EdgeNodeRow> {
    const node = await (await this.#locate(context)).reader.edge.getNode(id);
    if (node === undefined) throw nodeNotFound();
    return node;
  }

  /** Disables (or re-enables) a node; a disabled node's batches are refused. */
  async setStatus(context: TenantContext, id: string, disabled: boolean): Promise<EdgeNodeRow> {
    return this.#committer.submit(await this.#locate(context), async (tx, record) => {
      const node = await tx.edge.getNode(id);
      if (node === undefined || node.status === 'pending') throw nodeNotFound();
      const row: EdgeNodeRow = {
        ...node,
        status: disabled ? 'disabled' : 'active',
        updatedAt: new Date().toISOString(),
      };
      await tx.edge.putNode(row);
      record({
        actor: context.actor.id,
        action: disabled ? 'edge.disable' : 'edge.enable',
        resource: `edge-nodes/${id}`,
        state: { id, status: row.status },
      });
      return row;
    });
  }

  /** Revokes the node's credential and keys; the node enrolls again with the returned token. */
  async rekey(context: TenantContext, id: string): Promise<IssuedToken> {
    const node = await this.#committer.submit(await this.#locate(context), async (tx, record) => {
      const node = await tx.edge.getNode(id);
      if (node === undefined) throw nodeNotFound();
      const row: EdgeNodeRow = {
        ...node,
        status: 'pending',
        credentialHash: null,
        updatedAt: new Date().toISOString(),
      };
      await tx.edge.putNode(row);
      record({
        actor: context.actor.id,
        action: 'edge.revoke-keys',
        resource: `edge-nodes/${id}`,
        state: { id, keyVersion: node.keyVersion },
      });
      return row;
    });
    return this.#issueToken(context, node.name, node.id);
  }

  async alerts(context: TenantContext, id: string, after: string | undefined, limit: number) {
    const reader = (await this.#locate(context)).reader;
    if ((await reader.edge.getNode(id)) === undefined) throw nodeNotFound();
    return reader.edge.listAlerts(id, { after, limit });
  }
}
