import type { Attributes } from '../../attributes/index.ts';
import {
  type DeviceApi,
  groupCommit,
  parseHostPort,
  startDeviceApi,
  type TlsListen,
} from '../../listener/index.ts';
import { EdgeMetrics, type MetricsServer, serveMetrics } from '../../metrics/index.ts';
import { acquireNodeDirLock, NodeDirInUseError, type NodeDirLock } from '../../node-dir-lock.ts';
import { type NodeFile, outboxPath } from '../../node-file.ts';
import { Outbox } from '../../outbox.ts';
import { DEFAULT_SYNC, SyncLoop, type SyncSettings } from '../../sync.ts';
import { enrolledNode, flags, positiveInt, required } from '../args.ts';
import { CliError, EXIT } from '../cli-error.ts';
import { log } from '../log.ts';
import { deviceApiEvents } from './device-api-log.ts';
import { startLocalProcessing } from './local-processing.ts';
import { DEFAULT_OUTBOX_MAX_MESSAGES, outboxFlags } from './outbox-flags.ts';
import { diagnose } from './sync-diagnosis.ts';
import { tlsFlags, tlsListen } from './tls-flags.ts';

/** What `start` runs with, from its flags. */
interface StartOptions {
  readonly dir: string;
  readonly node: NodeFile;
  readonly settings: SyncSettings;
  readonly maxMessages: number;
  readonly mqtt: { host: string; port: number } | undefined;
  readonly mqttTls: TlsListen | undefined;
  readonly metricsAt: { host: string; port: number } | undefined;
  readonly values: {
    mqtt?: string | boolean | undefined;
    'mqtt-tls'?: string | boolean | undefined;
    metrics?: string | boolean | undefined;
  };
}

function startOptions(argv: string[]): StartOptions {
  const values = flags(argv, {
    dir: { type: 'string' },
    'batch-max-messages': { type: 'string' },
    mqtt: { type: 'string' },
    metrics: { type: 'string' },
    ...tlsFlags,
    ...outboxFlags,
  });
  const dir = required(values.dir, 'dir');
  let mqtt: { host: string; port: number } | undefined;
  let metricsAt: { host: string; port: number } | undefined;
  try {
    mqtt = values.mqtt === undefined ? undefined : parseHostPort(values.mqtt, 'mqtt');
    metricsAt = values.metrics === undefined ? undefined : parseHostPort(values.metrics, 'metrics');
  } catch (error) {
    throw new CliError((error as Error).message, EXIT.usage);
  }
  const mqttTls = tlsListen(values);
  const node = enrolledNode(dir);
  const settings = {
    ...DEFAULT_SYNC,
    batchMaxMessages: positiveInt(
      values['batch-max-messages'],
      'batch-max-messages',
      DEFAULT_SYNC.batchMaxMessages,
    ),
  };
  const maxMessages = positiveInt(
    values['outbox-max-messages'],
    'outbox-max-messages',
    DEFAULT_OUTBOX_MAX_MESSAGES,
  );
  return { dir, node, settings, maxMessages, mqtt, mqttTls, metricsAt, values };
}

/** Takes the node directory for this agent, or fails naming the agent that runs there. */
function holdNodeDir(dir: string): NodeDirLock {
  try {
    return acquireNodeDirLock(dir);
  } catch (error) {
    if (error instanceof NodeDirInUseError) throw new CliError(error.message, EXIT.failed);
    throw error;
  }
}

/**
 * `palisade-edge start --dir DIR`: runs the sync loop until SIGTERM or SIGINT, holding DIR
 * so that no second agent runs on it meanwhile.
 */
export async function start(argv: string[]): Promise<number> {
  const options = startOptions(argv);
  const lock = holdNodeDir(options.dir);
  try {
    return await serve(options);
  } finally {
    lock.release();
  }
}

async function serve(options: StartOptions): Promise<number> {
  const { dir, node, settings, maxMessages, mqtt, mqttTls, metricsAt, values } = options;
  const path = outboxPath(dir);
  const outbox = new Outbox(path, Buffer.from(node.outboxKey, 'base64'), { maxMessages });
  const metrics = new EdgeMetrics(outbox);
  let down = false;
  const loop = new SyncLoop(outbox, node, settings, {
    synced(batch, result) {
      if (down) log('info', 'link-up', { platform: node.url });
      down = false;
      metrics.confirmed(batch.messages.length, result.applied);
      outbox.setState('drainRate', String(metrics.drainRate()));
      log('info', 'synced', { batchId: batch.batchId, messages: batch.messages.length, result });
    },
    failed(error, failures, retryInMs) {
      down = true;
      metrics.failed();
      const backlog = outbox.waiting();
      const { kind, ...what } = diagnose(error, node, dir, path);
      log('warn', kind, {
        ...what,
        failures,
        retryInMs,
        backlog,
      });
    },
    clockSkew(offsetMs) {
      log('warn', 'clock-skew', {
        offsetMs,
        action: `this node's clock is ${Math.round(Math.abs(offsetMs) / 1000)} s ${offsetMs > 0 ? 'behind' : 'ahead of'} the platform's: sync it (NTP); messages without a timestamp of their own carry the node's time, and the platform refuses one more than 5 minutes (telemetryMaxFutureMs) ahead of its clock or older than it keeps`,
      });
    },
    setAside(batchId, messages, refusal) {
      metrics.quarantined();
      log('error', 'batch-quarantined', {
        batchId,
        messages,
        refusal,
        action: `the platform refuses these messages for good, so they are set aside and the rest is sent: see palisade-edge quarantine list --dir ${dir}, then retry them once the platform would take them, or discard them`,
      });
    },
  });
  const local = startLocalProcessing({ dir, node, outbox, metrics, log });
  let metricsServer: MetricsServer | undefined;
  let api: DeviceApi | undefined;
  if (metricsAt !== undefined) {
    try {
      metricsServer = await serveMetrics(metrics.registry, metricsAt);
    } catch (error) {
      await local.close();
      outbox.close();
      throw new CliError(
        `cannot serve metrics on ${values.metrics} (${(error as Error).message}); pick a free --metrics HOST:PORT`,
      );
    }
  }
  // Rules apply to telemetry; client attributes go to the outbox as they came.
  const take = groupCommit(outbox, (device, kind, payload) => {
    if (kind === 'attributes') outbox.accept(device.deviceId, payload, 'telemetry', kind);
    else local.pipeline.accept(device.deviceId, payload);
  });
  if (mqtt !== undefined || mqttTls !== undefined) {
    try {
      api = await startDeviceApi({
        dir,
        node,
        mqtt,
        mqttTls,
        // Rules apply to telemetry; client attributes go to the outbox as they came.
        accept: async (device, kind, payload) => {
          await take(device, kind, payload);
          if (kind === 'attributes') local.reported(device.deviceId, payload as Attributes);
        },
        rpcAnswer: (device, requestId, answer) => local.answer(device.deviceId, requestId, answer),
        attributeAnswer: (device, query) => local.attributeAnswer(device.deviceId, query),
        events: local.listenerEvents(deviceApiEvents(log)),
      });
      local.deliverThrough(api);
    } catch (error) {
      await local.close();
      await metricsServer?.close();
      outbox.close();
      throw new CliError(
        `cannot listen for devices on ${[values.mqtt, values['mqtt-tls']].filter(Boolean).join(' and ')} (${(error as Error).message}); pick a free --mqtt or --mqtt-tls HOST:PORT`,
      );
    }
  }
  const stop = (signal: string) => {
    log('info', 'stopping', { signal, note: 'finishing the batch in flight' });
    void api?.close();
    loop.stop();
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  log('info', 'started', {
    nodeId: node.nodeId,
    platform: node.url,
    outbox: path,
    backlog: outbox.waiting(),
    quarantined: outbox.quarantine.counts().messages,
    batchMaxMessages: settings.batchMaxMessages,
    mqtt: api?.listener.url || null,
    mqttTls: api?.listener.tlsUrl || null,
    metrics: metricsServer?.url ?? null,
    rules: local.pipeline.revision || null,
  });
  try {
    await loop.run();
  } catch (error) {
    const { kind, ...what } = diagnose(error, node, dir, path);
    log('error', 'stopped-on-error', { kind, ...what });
    await api?.close();
    await local.close();
    await metricsServer?.close();
    outbox.close();
    return EXIT.failed;
  } finally {
    process.off('SIGTERM', stop);
    process.off('SIGINT', stop);
  }
  await api?.close();
  await local.close();
  await metricsServer?.close();
  const backlog = outbox.waiting();
  const quarantined = outbox.quarantine.counts().messages;
  outbox.close();
  log('info', 'stopped', { backlog, quarantined });
  return EXIT.ok;
}
