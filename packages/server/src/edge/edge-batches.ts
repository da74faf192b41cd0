import type { GroupCommitter } from '../commit/index.ts';
import {
  type TelemetryService,
  writeClientAttributes,
  writeTelemetryMessages,
} from '../devices/index.ts';
import { type ErrorCode, PalisadeError } from '../errors/index.ts';
import type {
  ControlPlaneStore,
  EdgeAlertRow,
  EdgeBatchRow,
  TelemetryPoint,
  TenantStore,
} from '../store/index.ts';
import { neverAssigned, parseMessages, telemetryByDevice } from './batch-messages.ts';
import { chargeBatch, refundBatch } from './batch-quota.ts';
import { contentHash, type EdgeBatch, signedContent, verifyBatch } from './batch-signature.ts';
import type { EdgeAlerts } from './edge-alerts.ts';
import {
  actorOf,
  checkStillStanding,
  checkTenantStillActive,
  type EdgeNodeSession,
} from './node-authentication.ts';

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

/** What a batch's commit did: found it applied, found its number taken, or applied it. */
type Outcome =
  | { readonly again: EdgeBatchRow }
  | { readonly cloned: string }
  | { readonly result: BatchResult; readonly alert: EdgeAlertRow | undefined };

const NOT_ASSIGNED: ErrorCode = 'PALISADE_EDGE_DEVICE_NOT_ASSIGNED';

/**
 * Exactly-once application of a node's signed batches. A batch, its messages' points and its
 * ledger entries are one group-commit op, so they commit together or not at all; the (node,
 * batch id) row is the idempotency key, and its content hash tells a true retry from a
 * forged replay.
 */
export class EdgeBatches {
  readonly #committer: GroupCommitter;
  readonly #telemetry: TelemetryService;
  readonly #alerts: EdgeAlerts;
  readonly #controlPlane: ControlPlaneStore;

  constructor(
    committer: GroupCommitter,
    telemetry: TelemetryService,
    alerts: EdgeAlerts,
    controlPlane: ControlPlaneStore,
  ) {
    this.#committer = committer;
    this.#controlPlane = controlPlane;
    this.#telemetry = telemetry;
    this.#alerts = alerts;
  }

  /**
   * Verifies both signatures and applies the batch exactly once by (node, batch id), for the
   * node whose credential verified before the batch was read.
   */
  async apply(session: EdgeNodeSession, batch: EdgeBatch): Promise<BatchResult> {
    const { context, store, node } = session;
    if (batch.nodeId !== node.id)
      throw new PalisadeError('PALISADE_FORBIDDEN', 'the batch names another edge node');
    const content = signedContent(batch);
    const hash = contentHash(content);
    const keys = { ed25519: node.ed25519 ?? '', mldsa65: node.mldsa65 ?? '' };
    if (!verifyBatch(content, batch.signatures, keys)) {
      await this.#alerts.alert(store, node.id, 'forged-signature', batch.batchId, {
        contentHash: hash,
      });
      throw new PalisadeError(
        'PALISADE_EDGE_SIGNATURE_INVALID',
        "the batch signatures do not verify with the node's keys",
      );
    }
    const prior = await store.reader.edge.getBatch(node.id, batch.batchId);
    if (prior !== undefined) return this.#replay(store, prior, hash);
    const parsed = parseMessages(this.#telemetry, context, batch.messages);
    const charged = chargeBatch(this.#telemetry, context, parsed);
    const via = { edgeNode: node.id, batch: batch.batchId };
    const actor = actorOf(node.id);
    const telemetry = telemetryByDevice(batch.messages, parsed);
    /** The points each device got (in message order), and how many messages were applied. */
    const written = new Map<string, TelemetryPoint[]>();
    let messagesWritten = 0;
    const committed = this.#committer.submit(store, async (tx, record): Promise<Outcome> => {
      await checkStillStanding(tx, node);
      const again = await tx.edge.getBatch(node.id, batch.batchId);
      if (again !== undefined) return { again };
      // The node's row is held: a batch of another copy of the node with this number either
      // committed before and is found, or waits for this one and finds it.
      const seq = batch.seq === undefined ? null : { keyVersion: node.keyVersion, n: batch.seq };
      const taken =
        seq === null ? undefined : await tx.edge.batchAtSeq(node.id, seq.keyVersion, seq.n);
      if (taken !== undefined) return { cloned: taken };
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
      // Last, so the tenant's ledger is held no longer than its seal would hold it anyway.
      await checkTenantStillActive(tx, this.#controlPlane, context.tenantId);
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
        seq,
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
          : await this.#alerts.store(tx, record, {
              nodeId: node.id,
              kind: 'device-not-assigned',
              batchId: batch.batchId,
              detail: { devices: [...strangers] },
            });
      return { result, alert };
    });
    // Only the attempt that applies the batch pays, and only for what it wrote: a failed
    // commit, or a resend that another attempt applied meanwhile, gets its charge back, and
    // so do the messages the commit refused (a device not the node's, a bad timestamp).
    const outcome = await committed.catch((error: unknown) => {
      refundBatch(this.#telemetry, context, charged.messages, charged.points);
      throw error;
    });
    if ('again' in outcome || 'cloned' in outcome) {
      refundBatch(this.#telemetry, context, charged.messages, charged.points);
      if ('again' in outcome) return this.#replay(store, outcome.again, hash);
      return this.#cloned(store, node.id, batch, outcome.cloned, hash);
    }
    refundBatch(
      this.#telemetry,
      context,
      charged.messages - messagesWritten,
      charged.points - outcome.result.points,
    );
    this.#telemetry.quotas?.accepted(context, messagesWritten, outcome.result.points);
    // One bus event per device and batch (in message order), not one per message: a batch of
    // thousands of messages from a few devices would otherwise cost thousands of bus writes.
    for (const [deviceId, points] of written) this.#telemetry.announce(context, deviceId, points);
    if (outcome.alert !== undefined)
      this.#alerts.raised(
        outcome.alert,
        'edge: messages for devices never assigned to the node refused and alerted; check the node for compromise, or assign the devices to it',
      );
    return outcome.result;
  }

  /**
   * Refuses and alerts `batch`, whose sequence number the node's batch `taken` already had
   * applied under another id: only a second copy of the node's directory (or one restored
   * from a backup) sends that, and its messages would be applied twice.
   */
  async #cloned(
    store: TenantStore,
    nodeId: string,
    batch: EdgeBatch,
    taken: string,
    hash: string,
  ): Promise<never> {
    await this.#alerts.alert(store, nodeId, 'node-cloned', batch.batchId, {
      seq: batch.seq,
      appliedBatchId: taken,
      contentHash: hash,
    });
    throw new PalisadeError(
      'PALISADE_EDGE_NODE_CLONED',
      `batch ${taken} of this node was already applied with sequence number ${batch.seq}: two copies of the node's directory are running; the batch is refused and alerted`,
    );
  }

  async #replay(
    store: TenantStore,
    prior: { nodeId: string; batchId: string; contentHash: string; result: unknown },
    hash: string,
  ): Promise<BatchResult> {
    if (prior.contentHash === hash) return prior.result as BatchResult;
    await this.#alerts.alert(store, prior.nodeId, 'batch-conflict', prior.batchId, {
      contentHash: hash,
      appliedContentHash: prior.contentHash,
    });
    throw new PalisadeError(
      'PALISADE_EDGE_BATCH_CONFLICT',
      'this batch id was already applied with other content; the replay is refused and alerted',
    );
  }
}
