import { join } from 'node:path';
import {
  CredentialCache,
  CredentialRefresh,
  DEFAULT_REFRESH,
  type RefreshSettings,
} from '../credentials/index.ts';
import type { NodeIdentity } from '../sync.ts';
import {
  type AcceptMessage,
  EdgeMqttListener,
  type ListenAddress,
  type ListenerEvents,
  type ListenerOptions,
  type TlsListen,
} from './mqtt-listener.ts';

/** The file of the credential cache inside a node directory. */
export const CREDENTIALS_FILE = 'credentials.db';

/** `HOST:PORT` (IPv6 as `[::1]:1883`); throws an Error naming the flag when it is not one. */
export function parseHostPort(value: string, flag: string): { host: string; port: number } {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(value);
  const port = Number(match?.[3]);
  if (match === null || port > 65_535)
    throw new Error(`--${flag} must be HOST:PORT (e.g. 0.0.0.0:1883), got ${value}`);
  return { host: match[1] ?? match[2] ?? '', port };
}

/** What the device API reports beside the listener's own events. */
export interface DeviceApiEvents extends ListenerEvents {
  credentialsRefreshed?(devices: number): void;
  credentialsFailed?(error: unknown, cached: number, refreshedAt: string | null): void;
}

/** The node's local device API: credential cache, its refresh, and the MQTT listener. */
export interface DeviceApi {
  readonly listener: EdgeMqttListener;
  readonly credentials: CredentialCache;
  close(): Promise<void>;
}

/**
 * Opens the credential cache in `dir` (serving what it holds at once, so devices connect even
 * when the platform is down at start), starts refreshing it from the platform, and listens
 * for plain MQTT on `mqtt`, MQTT over TLS on `mqttTls`, or both.
 */
export async function startDeviceApi(options: {
  dir: string;
  node: NodeIdentity;
  mqtt?: ListenAddress | undefined;
  mqttTls?: TlsListen | undefined;
  accept: AcceptMessage;
  rpcAnswer?: ListenerOptions['rpcAnswer'];
  attributeAnswer?: ListenerOptions['attributeAnswer'];
  refresh?: RefreshSettings;
  events?: DeviceApiEvents;
}): Promise<DeviceApi> {
  const events = options.events ?? {};
  const credentials = new CredentialCache(join(options.dir, CREDENTIALS_FILE));
  const refresh = new CredentialRefresh(
    credentials,
    options.node,
    options.refresh ?? DEFAULT_REFRESH,
    {
      refreshed: (devices) => events.credentialsRefreshed?.(devices),
      failed: (error) =>
        events.credentialsFailed?.(error, credentials.size, credentials.refreshedAt()),
    },
  );
  const listener = new EdgeMqttListener({
    plain: options.mqtt,
    tls: options.mqttTls,
    credentials,
    accept: options.accept,
    ...(options.rpcAnswer === undefined ? {} : { rpcAnswer: options.rpcAnswer }),
    ...(options.attributeAnswer === undefined ? {} : { attributeAnswer: options.attributeAnswer }),
    events,
  });
  try {
    await listener.start();
  } catch (error) {
    await listener.close();
    credentials.close();
    throw error;
  }
  refresh.start();
  return {
    listener,
    credentials,
    async close() {
      await listener.close();
      await refresh.stop();
      credentials.close();
    },
  };
}
