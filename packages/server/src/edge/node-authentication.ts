import { PalisadeError } from '../errors/index.ts';
import type { TenantStoreLocator } from '../records/index.ts';
import type { ControlPlaneStore, EdgeNodeRow, TenantStore, TenantWriteTx } from '../store/index.ts';
import type { TenantContext } from '../tenancy/index.ts';
import { issueTenantContext } from '../tenancy/tenant-context.ts';
import { edgeSecretTenant, hashEdgeSecret } from './edge-credentials.ts';

/** A node whose credential verified, as {@link authenticateNode} finds it. */
export interface EdgeNodeSession {
  readonly context: TenantContext;
  readonly store: TenantStore;
  readonly node: EdgeNodeRow;
}

export function unauthenticated(): PalisadeError {
  return new PalisadeError(
    'PALISADE_EDGE_UNAUTHENTICATED',
    'the edge token or node credential is unknown, used up, expired or disabled',
  );
}

/**
 * The tenant an enrollment token names, as a context, if that tenant is active. The token
 * itself is spent (or refused) in the enrolment's write.
 */
export async function enrollingTenant(
  controlPlane: ControlPlaneStore,
  token: string,
): Promise<TenantContext> {
  const tenantId = edgeSecretTenant('pe', token);
  const tenant = tenantId === undefined ? undefined : await controlPlane.getTenant(tenantId);
  if (tenant?.status !== 'active') throw unauthenticated();
  return issueTenantContext(tenant, { kind: 'edge-node', id: 'edge-enrollment' });
}

function nodeDisabled(id: string): PalisadeError {
  return new PalisadeError(
    'PALISADE_EDGE_NODE_DISABLED',
    `edge node ${id} is disabled; enable it with PATCH /v1/edge-nodes/${id} {"disabled": false}`,
  );
}

function tenantSuspended(slug: string): PalisadeError {
  return new PalisadeError(
    'PALISADE_TENANT_SUSPENDED',
    `tenant ${slug} is suspended; ask the platform admin to resume it`,
  );
}

/** The actor a node's writes are recorded under. */
export const actorOf = (nodeId: string) => `edge-node:${nodeId}`;

/**
 * The node a bearer credential names, with its tenant. The credential is checked first, so
 * that only its holder learns why a known node is refused: its tenant is suspended
 * (PALISADE_TENANT_SUSPENDED) or it is disabled (PALISADE_EDGE_NODE_DISABLED), each of which
 * an operator undoes on the platform; an unknown or re-keyed credential is
 * PALISADE_EDGE_UNAUTHENTICATED.
 */
export async function authenticateNode(
  controlPlane: ControlPlaneStore,
  locate: TenantStoreLocator,
  authorization: string | undefined,
): Promise<EdgeNodeSession> {
  const secret = /^Bearer (\S+)$/.exec(authorization ?? '')?.[1];
  const tenantId = secret === undefined ? undefined : edgeSecretTenant('pn', secret);
  const tenant = tenantId === undefined ? undefined : await controlPlane.getTenant(tenantId);
  if (secret === undefined || tenant === undefined || tenant.status === 'deleted')
    throw unauthenticated();
  const unverified = issueTenantContext(tenant, { kind: 'edge-node', id: 'edge-credential' });
  const store = await locate(unverified);
  const node = await store.reader.edge.nodeByCredential(hashEdgeSecret(secret));
  if (node === undefined || node.status === 'pending') throw unauthenticated();
  if (tenant.status === 'suspended') throw tenantSuspended(tenant.slug);
  if (node.status === 'disabled') throw nodeDisabled(node.id);
  const context = issueTenantContext(tenant, { kind: 'edge-node', id: actorOf(node.id) });
  return { context, store, node };
}

/**
 * Inside a node's write: refuses it unless the node still stands as its credential verified,
 * which was before the body arrived (a large batch on a slow link takes a while). A node
 * disabled or re-keyed meanwhile writes nothing; its row is held to the commit, so a disable
 * or re-key either waits for the write or is seen by it.
 */
export async function checkStillStanding(tx: TenantWriteTx, verified: EdgeNodeRow): Promise<void> {
  const node = await tx.edge.holdNode(verified.id);
  if (
    node === undefined ||
    node.status === 'pending' ||
    node.credentialHash !== verified.credentialHash
  )
    throw unauthenticated();
  if (node.status === 'disabled') throw nodeDisabled(node.id);
}

/**
 * Inside a node's write, after its writes: refuses it unless its tenant is still active, as it
 * was when the credential verified, before the body arrived. The tenant's row is in the
 * control plane, which this transaction cannot hold, so the tenant's ledger is held instead:
 * a suspension (or deletion) changes the status first and then commits its own ledger entry,
 * so either that entry committed before this hold and the status read after it is the new
 * one, or the suspension is answered only after this write commits.
 */
export async function checkTenantStillActive(
  tx: TenantWriteTx,
  controlPlane: ControlPlaneStore,
  tenantId: string,
): Promise<void> {
  await tx.holdLedgerHead();
  const tenant = await controlPlane.getTenant(tenantId);
  if (tenant === undefined || tenant.status === 'deleted') throw unauthenticated();
  if (tenant.status === 'suspended') throw tenantSuspended(tenant.slug);
}
