/** Where the platform listens: the API and MQTT listeners and the settings they need. */

import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { serverGroups } from '@palisade/crypto';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Authorizer } from '../authz/index.ts';
import { ConfigError, SETTINGS, type Settings } from '../config/index.ts';
import type { DeviceServices } from '../devices/index.ts';
import {
  type MqttListener,
  type MqttTlsOptions,
  type MqttWsOptions,
  startMqttListener,
} from '../mqtt/index.ts';

/** The MQTTS and MQTT-over-WebSocket listeners asked for, beside the plain MQTT one. */
export interface MqttExtraListeners {
  readonly tls: MqttTlsOptions | undefined;
  readonly ws: MqttWsOptions | undefined;
}

/** The MQTT listeners beside the plain one, and the reverse proxies the API trusts. */
export interface ListenerOptions {
  readonly mqtt: MqttExtraListeners;
  readonly trustedProxies: string[];
}

/** Reads the listeners' settings, or throws a ConfigError that names the bad one. */
export function listenerOptions(settings: Settings): ListenerOptions {
  const tls = mqttTlsOptions(settings);
  const ws = mqttWsOptions(settings);
  return { mqtt: { tls, ws }, trustedProxies: trustedProxies(settings) };
}

/** Starts the API listening on `settings.listen`; resolves to its URL, with the bound port. */
export async function listenApi(http: FastifyInstance, settings: Settings): Promise<string> {
  const { host, port } = splitListen(settings.listen);
  const scheme = servesTls(settings) ? 'https' : 'http';
  // Fastify names the scheme from its own `https` option, which a serverFactory leaves unset.
  await http.listen({
    host,
    port,
    listenTextResolver: (address) =>
      `Server listening at ${address.replace(/^https?:/, `${scheme}:`)}`,
  });
  const address = http.server.address();
  const bound = typeof address === 'object' && address !== null ? address.port : port;
  return `${scheme}://${host.includes(':') ? `[${host}]` : host}:${bound}`;
}

/**
 * Starts the MQTT listener on `settings.mqtt`. When that is the default address and it is
 * taken (a Mosquitto on 1883, say) and no TLS or WebSocket listener is asked for, the platform
 * runs without MQTT and says so; otherwise a taken address fails the start.
 */
export async function startMqtt(
  settings: Settings,
  extra: MqttExtraListeners,
  devices: DeviceServices,
  authorizer: Authorizer,
  metrics: Registry,
  logger: Logger,
): Promise<MqttListener | undefined> {
  if (settings.mqtt === 'off') return undefined;
  const { host, port } = splitListen(settings.mqtt);
  try {
    return await startMqttListener({
      host,
      port,
      ...extra,
      authenticator: devices.authority,
      acts: {
        allows: (device, address, at) =>
          authorizer.decideDevice(device, 'telemetry:write', address, at),
      },
      ingest: devices.telemetry,
      attributes: { read: (device, query) => devices.readAttributes(device, query) },
      rpc: devices.rpc,
      limits: {
        maxPacket: settings.mqttMaxPacket,
        clientInflightMax: settings.mqttClientInflightMax,
        inflightMax: settings.mqttInflightMax,
        connectTimeoutMs: settings.mqttConnectTimeoutMs,
        rpcAckWaitMs: settings.mqttRpcAckWaitMs,
      },
      metrics,
      logger,
    });
  } catch (error) {
    const inUse = (error as { code?: unknown }).code === 'EADDRINUSE';
    // Running on without the default listener would silently drop the TLS and WebSocket ones.
    const asked = extra.tls !== undefined || extra.ws !== undefined;
    if (!inUse || settings.mqtt !== SETTINGS.mqtt.default || asked) throw error;
    logger.error(
      { mqtt: settings.mqtt },
      'mqtt: the default address is in use; running without MQTT (set --mqtt HOST:PORT or --mqtt off)',
    );
    return undefined;
  }
}

/** The API's address as a URL, before it listens (an inject-only platform never does). */
export function listenUrl(settings: Settings): string {
  return `${servesTls(settings) ? 'https' : 'http'}://${settings.listen}`;
}

function splitListen(listen: string): { host: string; port: number } {
  const index = listen.lastIndexOf(':');
  return {
    host: listen.slice(0, index).replace(/^\[|\]$/g, ''),
    port: Number(listen.slice(index + 1)),
  };
}

/** The trusted reverse proxies, each an IP address or a CIDR range, or a ConfigError. */
function trustedProxies(settings: Settings): string[] {
  for (const entry of settings.trustedProxies) {
    const [address = '', prefix] = entry.split('/');
    const family = isIP(address);
    const bits = prefix === undefined ? 0 : Number(prefix);
    if (family === 0 || !Number.isInteger(bits) || bits > (family === 4 ? 32 : 128))
      throw new ConfigError(
        `setting trustedProxies: ${JSON.stringify(entry)} is not an IP address or a CIDR range`,
      );
  }
  return settings.trustedProxies;
}

/** `mqtt` off stops the one broker the TLS and WebSocket listeners feed: refuse, never drop. */
function refuseMqttOff(settings: Settings, name: 'mqttTls' | 'mqttWs'): void {
  if (settings.mqtt !== 'off') return;
  throw new ConfigError(
    `setting ${name} needs the MQTT listener, which mqtt=off turns off: set mqtt to HOST:PORT ` +
      '(127.0.0.1:PORT keeps plain MQTT on this host only), or leave out mqttTls and mqttWs',
  );
}

/** The MQTTS listener's address and certificate (the API's), when `mqttTls` is set. */
function mqttTlsOptions(settings: Settings): MqttTlsOptions | undefined {
  if (settings.mqttTls === undefined) return undefined;
  refuseMqttOff(settings, 'mqttTls');
  if (settings.tlsCert === undefined || settings.tlsKey === undefined) {
    throw new ConfigError(
      'setting mqttTls needs tlsCert and tlsKey (the certificate the listener presents)',
    );
  }
  return {
    ...splitListen(settings.mqttTls),
    cert: readFileSync(settings.tlsCert),
    key: readFileSync(settings.tlsKey),
    ecdhCurve: serverGroups().join(':'),
  };
}

/** The MQTT-over-WebSocket listener's address, wss:// when the platform has a certificate. */
function mqttWsOptions(settings: Settings): MqttWsOptions | undefined {
  if (settings.mqttWs === undefined) return undefined;
  refuseMqttOff(settings, 'mqttWs');
  const tls =
    settings.tlsCert === undefined || settings.tlsKey === undefined
      ? undefined
      : {
          cert: readFileSync(settings.tlsCert),
          key: readFileSync(settings.tlsKey),
          ecdhCurve: serverGroups().join(':'),
        };
  return { ...splitListen(settings.mqttWs), tls };
}

/** Whether the API serves HTTPS: with both halves of the certificate, as the gateway does. */
function servesTls(settings: Settings): boolean {
  return settings.tlsCert !== undefined && settings.tlsKey !== undefined;
}
