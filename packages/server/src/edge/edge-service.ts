import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import type { GroupCommitter, WriteEvent } from '../commit/index.ts';
import {
  type TelemetryService,
  writeClientAttributes,
  writeTelemetryMessages,
} from '../devices/index.ts';
import { type ErrorCode, PalisadeError } from '../errors/index.ts';
import { uuid7 } from '../ids/index.ts';
import type { TenantStoreLocator } from '../records/index.ts';
import {
  type ControlPlaneStore,
  EDGE_ALERT_KINDS,
  type EdgeAlertKind,
  type EdgeAlertRow,
  type EdgeNodeRow,
  type TelemetryPoint,
  type TenantStore,
  type TenantWriteTx,
} from '../store/index.ts';
import type { TenantContext } from '../tenancy/index.ts';
import { issueTenantContext } from '../tenancy/tenant-context.ts';
import {
  contentHash,
  type EdgeBatch,
  type EdgeMessage,
  publicKeyOf,
  signedContent,
  verifyBatch,
} from './batch-signature.ts';
import { edgeSecretTenant, hashEdgeSecret, newEdgeSecret } from './edge-credentials.ts';

/** What the platform answers for a batch; a replay with the same content gets the same. */
export interface BatchResult {
  readonly batchId: string;
  readonly applied: number;
  readonly points: number;
  /**
   * Messages refused for good (unknown device, a device not the node's, bad payload): index
   * in the batch and code.
   */
  readonly refused: readonly { readonly index: number; readonly code: string }[];
}

export interface IssuedToken {
  readonly token: string;
  readonly expiresAt: string;
}

/** A node whose credential verified, as {@link EdgeService.authenticate} finds it. */
export interface EdgeNodeSession {
  readonly context: TenantContext;
  readonly store: TenantStore;
  readonly node: EdgeNodeRow;
}

export interface Enrolled {
  readonly nodeId: string;
  readonly credential: string;
  readonly keyVersion: number;
}

function unauthenticated(): PalisadeError {
  return new PalisadeError(
    'PALISADE_EDGE_UNAUTHENTICATED',
    'the edge token or node credential is unknown, used up, expired or disabled',
  );
}

function nodeNotFound(): PalisadeError {
  return new PalisadeError('PALISADE_EDGE_NODE_NOT_FOUND', 'no such edge node');
}

const actorOf = (nodeId: string) => `edge-node:${nodeId}`;

const NOT_ASSIGNED: ErrorCode = 'PALISADE_EDGE_DEVICE_NOT_ASSIGNED';

/** A batch's parsed telemetry messages grouped by device, each keeping its index, in order. */
function telemetryByDevice(
  messages: readonly EdgeMessage[],
  parsed: readonly (TelemetryPoint[] | Record<string, unknown> | PalisadeError)[],
): Map<string, { index: number; points: TelemetryPoint[] }[]> {
  const byDevice = new Map<string, { index: number; points: TelemetryPoint[] }[]>();
  parsed.forEach((points, index) => {
    if (!Array.isArray(points)) return;
    const deviceId = messages[index]!.deviceId;
    const own = byDevice.get(deviceId);
    if (own === undefined) byDevice.set(deviceId, [{ index, points }]);
    else own.push({ index, points });
  });
  return byDevice;
}

/**
 * The messages for devices that were never the node's (`indexes`), and those devices. A
 * device that left the node still counts as its own: what the node received for it stays its
 * backlog, however long the node was offline before it learned of the move (the node stamps
 * `receivedAt` itself, so bounding the backlog by the move's time would only lose an honest
 * node's data). Messages already refused, and devices that do not exist (refused as not
 * found, as another tenant's are), are not among them.
 */
async function neverAssigned(
  tx: TenantWriteTx,
  nodeId: string,
  messages: readonly EdgeMessage[],
  parsed: readonly (TelemetryPoint[] | Record<string, unknown> | PalisadeError)[],
): Promise<{ indexes: Set<number>; devices: Set<string> }> {
  const valid = [...messages.keys()].filter((i) => !(parsed[i] instanceof PalisadeError));
  const standing = await tx.devices.edgeStanding(nodeId, [
    ...new Set(valid.map((i) => messages[i]!.deviceId)),
  ]);
  const indexes = new Set<number>();
  const devices = new Set<string>();
  for (const i of valid) {
    const { deviceId } = messages[i]!;
    const device = standing.get(deviceId);
    if (device === undefined || device.assigned || device.unassignedAt !== null) continue;
    devices.add(deviceId);
    indexes.add(i);
  }
  return { indexes, devices };
}

/** One occurrence of an alert: what is raised against which node, with its evidence. */
interface RaisedAlert {
  readonly nodeId: string;
  readonly kind: EdgeAlertKind;
  readonly batchId: string;
  readonly detail: Record<string, unknown>;
}

/**
 * Stores an occurrence of an alert, coalesced: within `windowMs` of the first occurrence of
 * its kind against its node it counts on that alert, which keeps the first one's evidence, so
 * a node that retries a refused batch every few seconds raises one alert, not thousands. Each
 * occurrence still has its ledger entry, with its own evidence. The alert as it now stands.
 */
async function storeAlert(
  tx: TenantWriteTx,
  record: (event: WriteEvent) => void,
  raised: RaisedAlert,
  windowMs: number,
): Promise<EdgeAlertRow> {
  const now = Date.now();
  const seenAt = new Date(now).toISOString();
  const since = new Date(now - windowMs).toISOString();
  const open = await tx.edge.openAlert(raised.nodeId, raised.kind, since);
  if (open !== undefined) {
    const row = await tx.edge.repeatAlert(open.id, seenAt);
    record({
      actor: actorOf(row.nodeId),
      action: 'edge.alert.repeat',
      resource: `edge-nodes/${row.nodeId}/alerts/${row.id}`,
      state: {
        id: row.id,
        count: row.count,
        seenAt,
        batchId: raised.batchId,
        detail: raised.detail,
      },
    });
    return row;
  }
  const row: EdgeAlertRow = {
    id: uuid7(),
    ...raised,
    createdAt: seenAt,
    count: 1,
    lastSeenAt: seenAt,
  };
  await tx.edge.insertAlert(row);
  record({
    actor: actorOf(row.nodeId),
    action: 'edge.alert',
    resource: `edge-nodes/${row.nodeId}/alerts/${row.id}`,
    state: row,
  });
  return row;
}

/**
 * Edge nodes of a tenant: enrollment by one-time token, the node registry, and exactly-once
 * application of signed batches. A batch, its messages' points and its ledger entries are
 * one group-commit op, so they commit together or not at all; the (node, batch id) row is
 * the idempotency key, and its content hash tells a true retry from a forged replay.
 */
export class EdgeService {
  readonly #controlPlane: ControlPlaneStore;
  readonly #locate: TenantStoreLocator;
  readonly #committer: GroupCommitter;
  readonly #telemetry: TelemetryService;
  readonly #enrollmentTtlMs: number;
  readonly #alertWindowMs: number;
  readonly #logger: Logger | undefined;
  /** Alerts raised since start, by kind (never by tenant or node: bounded, and nobody's name). */
  readonly #alerts: Counter<'kind'>;

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
    this.#committer = options.committer;
    this.#telemetry = options.telemetry;
    this.#enrollmentTtlMs = options.enrollmentTtlMs;
    this.#alertWindowMs = options.alertWindowMs;
    this.#logger = options.logger;
    this.#alerts = new Counter({
      name: 'palisade_edge_node_alerts_total',
      help: 'Edge node alerts raised (forged or conflicting batches, devices never assigned), by kind',
      labelNames: ['kind'],
      registers: options.metrics === undefined ? [] : [options.metrics],
    });
    for (const kind of EDGE_ALERT_KINDS) this.#alerts.inc({ kind }, 0);
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

  /** The tenant an enrollment token names, as a context, if that tenant is active. */
  async #enrollingTenant(token: string): Promise<TenantContext> {
    const tenantId = edgeSecretTenant('pe', token);
    const tenant =
      tenantId === undefined ? undefined : await this.#controlPlane.getTenant(tenantId);
    if (tenant?.status !== 'active') throw unauthenticated();
    return issueTenantContext(tenant, { kind: 'edge-node', id: 'edge-enrollment' });
  }

  /** Spends the token: records the node's public keys (a ledger entry) and issues its credential. */
  async enroll(token: string, keys: { ed25519: string; mldsa65: string }): Promise<Enrolled> {
    publicKeyOf('ed25519', keys.ed25519, 'ed25519');
    publicKeyOf('mldsa65', keys.mldsa65, 'ml-dsa-65');
    const context = await this.#enrollingTenant(token);
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

  list(context: TenantContext, after: string | undefined, limit: number) {
    return this.#locate(context).then((s) => s.reader.edge.listNodes({ after, limit }));
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

  /**
   * The node a bearer credential names, with its tenant. The credential is checked first, so
   * that only its holder learns why a known node is refused: its tenant is suspended
   * (PALISADE_TENANT_SUSPENDED) or it is disabled (PALISADE_EDGE_NODE_DISABLED), each of which
   * an operator undoes on the platform; an unknown or re-keyed credential is
   * PALISADE_EDGE_UNAUTHENTICATED.
   */
  async authenticate(authorization: string | undefined): Promise<EdgeNodeSession> {
    const secret = /^Bearer (\S+)$/.exec(authorization ?? '')?.[1];
    const tenantId = secret === undefined ? undefined : edgeSecretTenant('pn', secret);
    const tenant =
      tenantId === undefined ? undefined : await this.#controlPlane.getTenant(tenantId);
    if (secret === undefined || tenant === undefined || tenant.status === 'deleted')
      throw unauthenticated();
    const unverified = issueTenantContext(tenant, { kind: 'edge-node', id: 'edge-credential' });
    const store = await this.#locate(unverified);
    const node = await store.reader.edge.nodeByCredential(hashEdgeSecret(secret));
    if (node === undefined || node.status === 'pending') throw unauthenticated();
    if (tenant.status === 'suspended')
      throw new PalisadeError(
        'PALISADE_TENANT_SUSPENDED',
        `tenant ${tenant.slug} is suspended; ask the platform admin to resume it`,
      );
    if (node.status === 'disabled')
      throw new PalisadeError(
        'PALISADE_EDGE_NODE_DISABLED',
        `edge node ${node.id} is disabled; enable it with PATCH /v1/edge-nodes/${node.id} {"disabled": false}`,
      );
    const context = issueTenantContext(tenant, { kind: 'edge-node', id: actorOf(node.id) });
    return { context, store, node };
  }

  /**
   * Verifies both signatures and applies the batch exactly once by (node, batch id), for the
   * node whose credential verified before the batch was read.
   */
  async applyBatch(session: EdgeNodeSession, batch: EdgeBatch): Promise<BatchResult> {
    const { context, store, node } = session;
    if (batch.nodeId !== node.id)
      throw new PalisadeError('PALISADE_FORBIDDEN', 'the batch names another edge node');
    const content = signedContent(batch);
    const hash = contentHash(content);
    const keys = { ed25519: node.ed25519 ?? '', mldsa65: node.mldsa65 ?? '' };
    if (!verifyBatch(content, batch.signatures, keys)) {
      await this.#alert(store, node.id, 'forged-signature', batch.batchId, { contentHash: hash });
      throw new PalisadeError(
        'PALISADE_EDGE_SIGNATURE_INVALID',
        "the batch signatures do not verify with the node's keys",
      );
    }
    const prior = await store.reader.edge.getBatch(node.id, batch.batchId);
    if (prior !== undefined) return this.#replay(store, prior, hash);
    const parsed = batch.messages.map((m) => {
      try {
        return m.kind === 'attributes'
          ? this.#telemetry.parseAttributes(m.deviceId, m.payload)
          : this.#telemetry.parseReceived(context, m.deviceId, m.payload, m.receivedAt);
      } catch (error) {
        if (error instanceof PalisadeError) return error;
        throw error;
      }
    });
    const charged = this.#chargeQuota(context, parsed);
    const via = { edgeNode: node.id, batch: batch.batchId };
    const actor = actorOf(node.id);
    const telemetry = telemetryByDevice(batch.messages, parsed);
    /** The points each device got (in message order), and how many messages were applied. */
    const written = new Map<string, TelemetryPoint[]>();
    let messagesWritten = 0;
    const committed = this.#committer.submit(store, async (tx, record) => {
      const again = await tx.edge.getBatch(node.id, batch.batchId);
      if (again !== undefined) return { again };
      written.clear();
      messagesWritten = 0;
      const { indexes: unassigned, devices: strangers } = await neverAssigned(
        tx,
        node.id,
        batch.messages,
        parsed,
      );
      const refused = [...unassigned].map((index) => ({ index, code: NOT_ASSIGNED }));
      let attributes = 0;
      for (const [index, message] of batch.messages.entries()) {
        const parsedMessage = parsed[index]!;
        if (Array.isArray(parsedMessage) || unassigned.has(index)) continue;
        try {
          if (parsedMessage instanceof PalisadeError) throw parsedMessage;
          await writeClientAttributes(tx, record, actor, message.deviceId, parsedMessage, via);
          attributes++;
        } catch (error) {
          if (!(error instanceof PalisadeError)) throw error;
          refused.push({ index, code: error.code });
        }
      }
      for (const [deviceId, sent] of telemetry) {
        const messages = sent.filter((m) => !unassigned.has(m.index));
        const outcomes = await writeTelemetryMessages(
          tx,
          record,
          actor,
          deviceId,
          messages.map((m) => m.points),
          via,
        );
        const points: TelemetryPoint[] = [];
        outcomes.forEach((error, i) => {
          const message = messages[i]!;
          if (error !== undefined) refused.push({ index: message.index, code: error.code });
          else {
            points.push(...message.points);
            messagesWritten++;
          }
        });
        if (points.length > 0) written.set(deviceId, points);
      }
      refused.sort((a, b) => a.index - b.index);
      let points = 0;
      for (const p of written.values()) points += p.length;
      const result: BatchResult = {
        batchId: batch.batchId,
        applied: messagesWritten + attributes,
        points,
        refused,
      };
      await tx.edge.insertBatch({
        nodeId: node.id,
        batchId: batch.batchId,
        contentHash: hash,
        signatures: batch.signatures,
        result,
        appliedAt: new Date().toISOString(),
      });
      record({
        actor,
        action: 'edge.batch',
        resource: `edge-nodes/${node.id}/batches/${batch.batchId}`,
        state: {
          node: node.id,
          batch: batch.batchId,
          contentHash: hash,
          keyVersion: node.keyVersion,
          signatures: batch.signatures,
        },
      });
      // A device that was never the node's is one an honest node holds no credential for.
      const alert =
        strangers.size === 0
          ? undefined
          : await storeAlert(
              tx,
              record,
              {
                nodeId: node.id,
                kind: 'device-not-assigned',
                batchId: batch.batchId,
                detail: { devices: [...strangers] },
              },
              this.#alertWindowMs,
            );
      return { result, alert };
    });
    // Only the attempt that applies the batch pays, and only for what it wrote: a failed
    // commit, or a resend that another attempt applied meanwhile, gets its charge back, and
    // so do the messages the commit refused (a device not the node's, a bad timestamp).
    const outcome = await committed.catch((error: unknown) => {
      this.#refund(context, charged.messages, charged.points);
      throw error;
    });
    if (outcome.result === undefined) {
      this.#refund(context, charged.messages, charged.points);
      return this.#replay(store, outcome.again, hash);
    }
    this.#refund(
      context,
      charged.messages - messagesWritten,
      charged.points - outcome.result.points,
    );
    this.#telemetry.quotas?.accepted(context, messagesWritten, outcome.result.points);
    // One bus event per device and batch (in message order), not one per message: a batch of
    // thousands of messages from a few devices would otherwise cost thousands of bus writes.
    for (const [deviceId, points] of written) this.#telemetry.announce(context, deviceId, points);
    if (outcome.alert !== undefined)
      this.#raised(
        outcome.alert,
        'edge: messages for devices never assigned to the node refused and alerted; check the node for compromise, or assign the devices to it',
      );
    return outcome.result;
  }

  /**
   * Charges a new batch's valid telemetry messages to the tenant's plan rates, or refuses it
   * whole (429) before anything is written; returns what it charged. Reserved up front
   * rather than charged after the commit, so that batches committing at once cannot all pass
   * on the same tokens. Client attributes are not charged (as when a device sends them
   * directly).
   */
  #chargeQuota(
    context: TenantContext,
    parsed: readonly (TelemetryPoint[] | Record<string, unknown> | PalisadeError)[],
  ): { messages: number; points: number } {
    const quotas = this.#telemetry.quotas;
    let messages = 0;
    let points = 0;
    for (const p of parsed) {
      if (!Array.isArray(p)) continue;
      messages++;
      points += p.length;
    }
    if (quotas === undefined || messages === 0) return { messages: 0, points: 0 };
    quotas.admitBatch(context, messages, points);
    return { messages, points };
  }

  /** Gives back part of what {@link EdgeService.#chargeQuota} charged. */
  #refund(context: TenantContext, messages: number, points: number): void {
    if (messages > 0 || points > 0) this.#telemetry.quotas?.refundBatch(context, messages, points);
  }

  async #replay(
    store: TenantStore,
    prior: { nodeId: string; batchId: string; contentHash: string; result: unknown },
    hash: string,
  ): Promise<BatchResult> {
    if (prior.contentHash === hash) return prior.result as BatchResult;
    await this.#alert(store, prior.nodeId, 'batch-conflict', prior.batchId, {
      contentHash: hash,
      appliedContentHash: prior.contentHash,
    });
    throw new PalisadeError(
      'PALISADE_EDGE_BATCH_CONFLICT',
      'this batch id was already applied with other content; the replay is refused and alerted',
    );
  }

  async #alert(
    store: TenantStore,
    nodeId: string,
    kind: EdgeAlertKind,
    batchId: string,
    detail: Record<string, unknown>,
  ): Promise<void> {
    const raised = { nodeId, kind, batchId, detail };
    const row = await this.#committer.submit(store, (tx, record) =>
      storeAlert(tx, record, raised, this.#alertWindowMs),
    );
    this.#raised(
      row,
      'edge: batch refused and alerted; check the node for compromise or a key mix-up',
    );
  }

  /** Counts an occurrence (`palisade_edge_node_alerts_total` counts each) and logs it. */
  #raised(row: EdgeAlertRow, message: string): void {
    this.#alerts.inc({ kind: row.kind });
    this.#logger?.warn(
      { nodeId: row.nodeId, kind: row.kind, alertId: row.id, count: row.count },
      message,
    );
  }
}
