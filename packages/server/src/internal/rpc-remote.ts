import { keyToken } from '../bus/index.ts';
import type { RpcRemote } from '../devices/index.ts';
import type { InternalChannel } from './internal-channel.ts';

interface RpcIds {
  readonly tenantId: string;
  readonly deviceId: string;
  readonly rpcId: string;
}

function isRpcIds(value: unknown): value is RpcIds {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    typeof v.tenantId === 'string' && typeof v.deviceId === 'string' && typeof v.rpcId === 'string'
  );
}

/**
 * Server-side RPC across processes over the internal channel. A process serving a device
 * subscribes to that device's own delivery subject (`rpc.deliver.<tenant>.<device>`), so a
 * request for a device no process holds gets NATS's "no responders" at once instead of a
 * timeout. Answers are announced on one subject every process listens to.
 */
export class ChannelRpcRemote implements RpcRemote {
  readonly #channel: InternalChannel;

  constructor(channel: InternalChannel) {
    this.#channel = channel;
  }

  async deliver(tenantId: string, deviceId: string, rpcId: string): Promise<boolean> {
    const reply = await this.#channel.request(
      'rpc.deliver',
      [keyToken(tenantId), keyToken(deviceId)],
      { rpcId },
    );
    return (reply as { delivered?: unknown } | undefined)?.delivered === true;
  }

  answered(tenantId: string, deviceId: string, rpcId: string): void {
    // Lost, the waiting call still reads the answer from the store at its deadline.
    this.#channel.publish('rpc.answered', [], { tenantId, deviceId, rpcId }).catch(() => undefined);
  }

  serve(
    tenantId: string,
    deviceId: string,
    deliver: (rpcId: string) => Promise<boolean>,
  ): () => void {
    return this.#channel.subscribe(
      'rpc.deliver',
      [keyToken(tenantId), keyToken(deviceId)],
      async (payload) => {
        const rpcId = (payload as { rpcId?: unknown } | null)?.rpcId;
        return { delivered: typeof rpcId === 'string' && (await deliver(rpcId)) };
      },
    );
  }

  /** Hands announced answers to the calls of this process waiting for them. */
  listen(
    onAnswered: (tenantId: string, deviceId: string, rpcId: string) => Promise<void>,
  ): () => void {
    return this.#channel.subscribe('rpc.answered', [], async (payload) => {
      if (isRpcIds(payload)) await onAnswered(payload.tenantId, payload.deviceId, payload.rpcId);
    });
  }
}
