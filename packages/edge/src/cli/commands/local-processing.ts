import { join } from 'node:path';
import { type AttributeQuery, answerAttributes } from '@palisade/device-api';
import {
  type Attributes,
  CLIENT_ATTRIBUTES_FILE,
  ClientAttributeRecord,
  SHARED_ATTRIBUTES_FILE,
  SharedAttributeCopy,
  SharedAttributePush,
} from '../../attributes/index.ts';
import type { DeviceApi, DeviceApiEvents } from '../../listener/index.ts';
import { TOPIC } from '../../listener/index.ts';
import type { EdgeMetrics } from '../../metrics/index.ts';
import type { NodeFile } from '../../node-file.ts';
import type { Outbox } from '../../outbox.ts';
import { RPC_JOURNAL_FILE, RpcLink, RpcRelay, SqliteRpcJournal } from '../../rpc/index.ts';
import {
  EdgePipeline,
  EMPTY_BOOK,
  type RuleBook,
  RuleEngine,
  RuleRefresh,
  readRuleCache,
  rulesPath,
} from '../../rules/index.ts';
import type { log as Log } from '../log.ts';

/** How often open downsample windows are closed and held RPC requests retried. */
export const LOCAL_TICK_MS = 250;

/** The rules, RPC and shared attributes of a running node, around its outbox and local listener. */
export interface LocalProcessing {
  /** The hook the listener calls for each telemetry message, before its PUBACK. */
  readonly pipeline: EdgePipeline;
  readonly relay: RpcRelay;
  /** Counts the listener's events too, then passes them on. */
  listenerEvents(events: DeviceApiEvents): DeviceApiEvents;
  /** A device answered an RPC request; an answer to no request of its own is counted and logged. */
  answer(deviceId: string, requestId: string, answer: unknown): void;
  /** A device's client attributes are in the outbox: the node answers with them from now on. */
  reported(deviceId: string, attributes: Attributes): void;
  /** The answer to a device's attribute request, from what the node holds (offline too). */
  attributeAnswer(deviceId: string, query: AttributeQuery): Record<string, unknown>;
  /** Delivers RPC requests and shared attributes through the running listener. */
  deliverThrough(api: DeviceApi): void;
  /** Stops pulling and polling, and stores every open window. */
  close(): Promise<void>;
}

function cachedBook(dir: string, log: typeof Log): RuleBook {
  try {
    return readRuleCache(dir);
  } catch (error) {
    log('warn', 'rules-cache-unreadable', {
      file: rulesPath(dir),
      message: (error as Error).message,
      action:
        'starting without local rules until the platform is reached; delete the file if this repeats (it is fetched again)',
    });
    return EMPTY_BOOK;
  }
}

/**
 * Starts the node's local processing: the rules from the cache at once (so they apply
 * offline), their refresh from the platform, the timer closing downsample windows, and the
 * RPC relay with its link to the platform, which also keeps the copy of the devices' shared
 * attributes they are pushed from. Alerts are logged here as they fire.
 */
export function startLocalProcessing(options: {
  dir: string;
  node: NodeFile;
  outbox: Outbox;
  metrics: EdgeMetrics;
  log: typeof Log;
}): LocalProcessing {
  const { dir, node, outbox, metrics, log } = options;
  const book = cachedBook(dir, log);
  metrics.rules.set(book.ruleSets.length);
  const pipeline = new EdgePipeline(outbox, new RuleEngine(book), {
    stored: (_device, kind) => metrics.accepted.inc({ kind }),
    filtered: () => metrics.filtered.inc(),
    alert(deviceId, alert) {
      metrics.alerts.inc({ alert: alert.name, state: alert.state });
      log('warn', 'alert', { device: deviceId, ...alert });
    },
  });
  const refresh = new RuleRefresh(dir, node, pipeline, undefined, {
    updated(book) {
      metrics.rules.set(book.ruleSets.length);
      log('info', 'rules-updated', {
        revision: book.revision,
        ruleSets: book.ruleSets.map((s) => s.deviceType),
        devices: book.devices.length,
      });
    },
    failed(error, retryInMs) {
      log('warn', 'rules-stale', {
        message: (error as Error).message,
        retryInMs,
        revision: pipeline.revision,
        action:
          'the cached rules keep applying; changes made on the platform take effect once it is reachable again',
      });
    },
  });
  let link: RpcLink | undefined;
  const key = Buffer.from(node.outboxKey, 'base64');
  const journal = new SqliteRpcJournal(join(dir, RPC_JOURNAL_FILE), key);
  const copy = new SharedAttributeCopy(join(dir, SHARED_ATTRIBUTES_FILE), key, (error) =>
    log('error', 'shared-attributes-not-stored', {
      message: (error as Error).message,
      action: `${join(dir, SHARED_ATTRIBUTES_FILE)} cannot be written (disk full, read-only?): devices still get the changes, but after a restart the node serves older values until the platform is reached; free space or fix the disk`,
    }),
  );
  const reported = new ClientAttributeRecord(join(dir, CLIENT_ATTRIBUTES_FILE), key, (error) =>
    log('error', 'client-attributes-not-stored', {
      message: (error as Error).message,
      action: `${join(dir, CLIENT_ATTRIBUTES_FILE)} cannot be written (disk full, read-only?): the attributes are in the outbox, but after a restart the node answers attribute requests without them; free space or fix the disk`,
    }),
  );
  const push = new SharedAttributePush(copy, (deviceId, error) =>
    log('warn', 'shared-attributes-not-pushed', {
      device: deviceId,
      message: (error as Error).message,
      note: 'the device hears its current shared attributes when it subscribes again',
    }),
  );
  const relay = new RpcRelay({
    journal,
    onAnswer: () => link?.sendAnswers(),
    events: {
      received: () => metrics.rpc.inc({ event: 'received' }),
      delivered: () => metrics.rpc.inc({ event: 'delivered' }),
      answered: () => metrics.rpc.inc({ event: 'answered' }),
      expired(request, delivered) {
        metrics.rpc.inc({ event: 'expired' });
        log('info', 'rpc-expired', {
          requestId: request.requestId,
          device: request.deviceId,
          delivered,
          note: delivered
            ? 'the device did not answer before the deadline'
            : 'the device did not connect (or subscribe to v1/devices/me/rpc/request/+) before the deadline',
        });
      },
    },
  });
  link = new RpcLink(
    relay,
    node,
    undefined,
    {
      failed(error, failures, retryInMs) {
        metrics.linkUp.set(0);
        if (failures === 1)
          log('warn', 'rpc-link-down', {
            message: (error as Error).message,
            retryInMs,
            action:
              'RPC requests wait on the platform until their deadline and are delivered once the link is back',
          });
      },
      refused: (requestId, outcome) => log('info', 'rpc-answer-refused', { requestId, outcome }),
    },
    {
      get digest() {
        return copy.digest;
      },
      apply(update) {
        for (const deviceId of copy.apply(update)) void push.converge(deviceId);
      },
    },
  );
  const timer = setInterval(() => {
    try {
      pipeline.tick();
    } catch (error) {
      metrics.refused.inc({ reason: 'window_not_stored' });
      log('error', 'rules-window-lost', {
        message: (error as Error).message,
        action:
          'the outbox could not write a downsampled aggregate (a disk error), which is lost: free or fix the disk',
      });
    }
    void relay.retry();
    metrics.rpcPending.set(relay.pending);
  }, LOCAL_TICK_MS);
  refresh.start();
  link.start();
  return {
    pipeline,
    relay,
    listenerEvents(events) {
      return {
        ...events,
        refused(reason, detail, device) {
          metrics.refused.inc({ reason });
          events.refused?.(reason, detail, device);
        },
        subscribed(device, kind) {
          if (kind === 'attributes') void push.subscribed(device.deviceId);
          events.subscribed?.(device, kind);
        },
      };
    },
    answer(deviceId, requestId, answer) {
      if (relay.respond(deviceId, requestId, answer)) return;
      metrics.rpc.inc({ event: 'ignored' });
      log('info', 'rpc-answer-ignored', {
        device: deviceId,
        requestId,
        note: 'no request with this id was delivered to this device, or it is past its deadline',
      });
    },
    reported(deviceId, attributes) {
      reported.merge(deviceId, attributes);
    },
    attributeAnswer(deviceId, query) {
      return answerAttributes(reported.get(deviceId), copy.get(deviceId) ?? {}, query);
    },
    deliverThrough(api) {
      relay.connect(
        async (deviceId, requestId, body) =>
          (await api.listener.send(deviceId, `${TOPIC.rpcRequest}${requestId}`, body)) > 0,
      );
      push.connect((deviceId, body) => api.listener.send(deviceId, TOPIC.attributes, body));
    },
    async close() {
      clearInterval(timer);
      await Promise.all([refresh.stop(), link?.stop()]);
      journal.close();
      copy.close();
      reported.close();
      pipeline.flush();
    },
  };
}
