import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import type { GroupCommitter, WriteEvent } from '../commit/index.ts';
import { uuid7 } from '../ids/index.ts';
import {
  EDGE_ALERT_KINDS,
  type EdgeAlertKind,
  type EdgeAlertRow,
  type TenantStore,
  type TenantWriteTx,
} from '../store/index.ts';
import { actorOf } from './node-authentication.ts';

/** One occurrence of an alert: what is raised against which node, with its evidence. */
export interface RaisedAlert {
  readonly nodeId: string;
  readonly kind: EdgeAlertKind;
  readonly batchId: string;
  readonly detail: Record<string, unknown>;
}

/**
 * Stores an occurrence of an alert, coalesced: within `windowMs` of the first occurrence of
 * its kind against its node it counts on that alert, which keeps the first one's evidence, so
 * a node that retries a refused batch every few seconds raises one alert, not thousands. Each
 * occurrence still has its ledger entry, with its own evidence. The node's alerts are held
 * from the look-up to the commit, so occurrences in transactions running at once (two
 * batches in flight, two processes on one shard) count on one alert. The alert as it now stands.
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
  const open = await tx.edge.holdOpenAlert(raised.nodeId, raised.kind, since);
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
 * Edge node alerts as the operator sees them: a stored alert (coalesced within the alert
 * window), a metric by kind and a log line.
 */
export class EdgeAlerts {
  readonly #committer: GroupCommitter;
  /** How long an alert stays open to count repeats of its kind against its node. */
  readonly #windowMs: number;
  readonly #logger: Logger | undefined;
  /** Alerts raised since start, by kind (never by tenant or node: bounded, and nobody's name). */
  readonly #alerts: Counter<'kind'>;

  constructor(options: {
    committer: GroupCommitter;
    alertWindowMs: number;
    logger?: Logger | undefined;
    metrics?: Registry | undefined;
  }) {
    const { metrics } = options;
    this.#committer = options.committer;
    this.#windowMs = options.alertWindowMs;
    this.#logger = options.logger;
    this.#alerts = new Counter({
      name: 'palisade_edge_node_alerts_total',
      help: 'Edge node alerts raised (forged or conflicting batches, devices never assigned), by kind',
      labelNames: ['kind'],
      registers: metrics === undefined ? [] : [metrics],
    });
    for (const kind of EDGE_ALERT_KINDS) this.#alerts.inc({ kind }, 0);
  }

  /** Stores an occurrence in the write transaction (see {@link storeAlert}); the alert as it stands. */
  store(
    tx: TenantWriteTx,
    record: (event: WriteEvent) => void,
    raised: RaisedAlert,
  ): Promise<EdgeAlertRow> {
    return storeAlert(tx, record, raised, this.#windowMs);
  }

  /** Stores (in a commit of its own) and raises an alert for a batch refused whole. */
  async alert(
    store: TenantStore,
    nodeId: string,
    kind: EdgeAlertKind,
    batchId: string,
    detail: Record<string, unknown>,
  ): Promise<void> {
    const raised = { nodeId, kind, batchId, detail };
    const row = await this.#committer.submit(store, (tx, record) =>
      storeAlert(tx, record, raised, this.#windowMs),
    );
    this.raised(
      row,
      'edge: batch refused and alerted; check the node for compromise or a key mix-up',
    );
  }

  /** Counts an occurrence (`palisade_edge_node_alerts_total` counts each) and logs it. */
  raised(row: EdgeAlertRow, message: string): void {
    this.#alerts.inc({ kind: row.kind });
    this.#logger?.warn(
      { nodeId: row.nodeId, kind: row.kind, alertId: row.id, count: row.count },
      message,
    );
  }
}
