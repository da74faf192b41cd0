import { connect, type NatsConnection } from '@nats-io/transport-node';

/** A NATS connection and the way to close it. */
export interface NatsLink {
  readonly nc: NatsConnection;
  /** Drains when connected; closes at once during an outage. Never throws. */
  close(): Promise<void>;
}

/**
 * Connects to `servers` for as long as the process runs: nats.js gives up reconnecting after
 * 10 attempts (about 20 s) by default, and a closed connection is never reopened, so one
 * longer NATS outage would leave the process without its bus until restarted. Draining needs
 * the server (it flushes), so a close during an outage closes instead of waiting for it.
 */
export async function connectNats(servers: string, name: string): Promise<NatsLink> {
  const nc = await connect({ servers, name, maxReconnectAttempts: -1 });
  let connected = true;
  let closing = false;
  void (async () => {
    for await (const status of nc.status()) {
      if (status.type === 'reconnect') connected = true;
      if (status.type !== 'disconnect') continue;
      connected = false;
      if (closing) await nc.close().catch(() => undefined);
    }
  })();
  return {
    nc,
    close: async () => {
      closing = true;
      const done = connected ? Promise.race([nc.drain(), nc.closed()]) : nc.close();
      await done.catch(() => undefined);
    },
  };
}
