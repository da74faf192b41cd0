/**
 * Edge nodes of a tenant, as one service: the node registry and enrollment
 * ({@link EdgeNodes}), authentication of a node by its bearer credential
 * ({@link authenticateNode}), and exactly-once application of its signed batches
 * ({@link EdgeBatches}), with the alerts they raise ({@link EdgeAlerts}).
 */
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { GroupCommitter } from '../commit/index.ts';
import type { TelemetryService } from '../devices/index.ts';
import type { TenantStoreLocator } from '../records/index.ts';
import type { ControlPlaneStore, EdgeNodeRow } from '../store/index.ts';
import type { TenantContext } from '../tenancy/index.ts';
import type { EdgeBatch } from './batch-signature.ts';
import { EdgeAlerts } from './edge-alerts.ts';
import { type BatchResult, EdgeBatches } from './edge-batches.ts';
import { EdgeNodes, type Enrolled, type IssuedToken } from './edge-nodes.ts';
import { authenticateNode, type EdgeNodeSession } from './node-authentication.ts';

/** Edge nodes of a tenant: what the edge routes, the RPC relay, credential sync and rules use. */
export class EdgeService {
  readonly #controlPlane: ControlPlaneStore;
  readonly #locate: TenantStoreLocator;
  readonly #nodes: EdgeNodes;
  readonly #batches: EdgeBatches;

  constructor(options: {
    controlPlane: ControlPlaneStore;
    locate: TenantStoreLocator;
    committer: GroupCommitter;
    telemetry: TelemetryService;
    enrollmentTtlMs: number;
    /** How long an alert stays open to count repeats of its kind against its node. */
    alertWindowMs: number;
    logger?: Logger | undefined;
    metrics?: Registry | undefined;
  }) {
    this.#controlPlane = options.controlPlane;
    this.#locate = options.locate;
    this.#nodes = new EdgeNodes(options);
    const alerts = new EdgeAlerts(options);
    this.#batches = new EdgeBatches(
      options.committer,
      options.telemetry,
      alerts,
      options.controlPlane,
    );
  }

  /** A one-time enrollment token for a new node called `name`; shown once, stored hashed. */
  createToken(context: TenantContext, name: string): Promise<IssuedToken> {
    return this.#nodes.createToken(context, name);
  }

  /** Spends the token: records the node's public keys (a ledger entry) and issues its credential. */
  enroll(token: string, keys: { ed25519: string; mldsa65: string }): Promise<Enrolled> {
    return this.#nodes.enroll(token, keys);
  }

  /** The nodes the caller may read, a page at a time (see EdgeNodes.list). */
  list(
    context: TenantContext,
    after: string | undefined,
    limit: number,
    readable: (id: string) => boolean,
  ) {
    return this.#nodes.list(context, after, limit, readable);
  }

  get(context: TenantContext, id: string): Promise<EdgeNodeRow> {
    return this.#nodes.get(context, id);
  }

  /** Disables (or re-enables) a node; a disabled node's batches are refused. */
  setStatus(context: TenantContext, id: string, disabled: boolean): Promise<EdgeNodeRow> {
    return this.#nodes.setStatus(context, id, disabled);
  }

  /** Revokes the node's credential and keys; the node enrolls again with the returned token. */
  rekey(context: TenantContext, id: string): Promise<IssuedToken> {
    return this.#nodes.rekey(context, id);
  }

  alerts(context: TenantContext, id: string, after: string | undefined, limit: number) {
    return this.#nodes.alerts(context, id, after, limit);
  }

  /** The node a bearer credential names, with its tenant (see {@link authenticateNode}). */
  authenticate(authorization: string | undefined): Promise<EdgeNodeSession> {
    return authenticateNode(this.#controlPlane, this.#locate, authorization);
  }

  /**
   * Verifies both signatures and applies the batch exactly once by (node, batch id), for the
   * node whose credential verified before the batch was read.
   */
  applyBatch(session: EdgeNodeSession, batch: EdgeBatch): Promise<BatchResult> {
    return this.#batches.apply(session, batch);
  }
}
