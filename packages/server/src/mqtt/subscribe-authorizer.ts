import type { Client, Subscription } from 'aedes';
import type { DeviceAuthenticator } from '../devices/index.ts';
import type { DeviceSession } from './device-session.ts';
import { gatewayRequest } from './gateway-rpc.ts';
import type { MqttMetrics } from './mqtt-metrics.ts';
import type { RpcChannel } from './mqtt-ports.ts';
import type { SessionTable } from './session-table.ts';
import { subscriptionKind, TOPIC } from './topics.ts';

/** What authorizing a SUBSCRIBE uses. */
export interface SubscribeAuthorizerOptions {
  readonly sessions: SessionTable;
  readonly metrics: MqttMetrics;
  readonly rpc: RpcChannel | undefined;
  /** Whether a gateway's child is still the gateway's. */
  readonly authenticator: Pick<DeviceAuthenticator, 'current'>;
  /** Sends a server message to one session, if it subscribed to that topic. */
  readonly send: (session: DeviceSession, topic: string, body: unknown) => Promise<boolean>;
}

/**
 * aedes' `authorizeSubscribe` and its `unsubscribe` event: a device subscribes only to the
 * topics topics.ts allows it, at QoS 1 at most; subscribing to RPC requests attaches the
 * device (or a gateway's children) to the RPC queue, unsubscribing detaches it.
 */
export class SubscribeAuthorizer {
  readonly #options: SubscribeAuthorizerOptions;

  constructor(options: SubscribeAuthorizerOptions) {
    this.#options = options;
  }

  subscribe(client: Client, sub: Subscription): Subscription | null {
    const session = this.#options.sessions.get(client);
    const kind =
      session === undefined ? undefined : subscriptionKind(sub.topic, session.identity.isGateway);
    if (session === undefined || kind === undefined) {
      this.#options.metrics.refusals.inc({ reason: 'subscription_not_allowed', code: 'none' });
      return null;
    }
    session.subscriptions.add(kind);
    const rpc = this.#options.rpc;
    if (kind === 'rpc-requests' && rpc !== undefined && session.detachRpc === undefined) {
      session.detachRpc = rpc.attach(session.identity, async (request) => {
        // Not sent: the request stays queued for a connection that may have it.
        if (
          !(await this.#options.send(
            session,
            `${TOPIC.rpcRequest}${request.requestId}`,
            request.body,
          ))
        )
          throw new Error('the connection may no longer receive requests');
      });
    }
    if (kind === 'gateway-rpc' && rpc !== undefined)
      session.reachChildren((name, child) =>
        rpc.attach(child, async (request) => {
          // Not sent (the child disconnected or left the gateway meanwhile, or the gateway
          // stopped listening): the request stays queued for the child's next connection.
          if (!(await this.#options.authenticator.current(child))) session.forgetChild(name);
          const sent =
            session.reaches(name, child) &&
            (await this.#options.send(session, TOPIC.gatewayRpc, gatewayRequest(name, request)));
          if (!sent) throw new Error('the gateway may no longer receive requests for this child');
        }),
      );
    return { ...sub, qos: Math.min(sub.qos, 1) as 0 | 1 };
  }

  unsubscribe(client: Client, filters: string[]): void {
    const session = this.#options.sessions.get(client);
    if (session === undefined) return;
    for (const filter of filters) {
      const kind = subscriptionKind(filter, session.identity.isGateway);
      if (kind !== undefined) session.subscriptions.delete(kind);
      if (kind === 'rpc-requests') {
        session.detachRpc?.();
        session.detachRpc = undefined;
      }
      if (kind === 'gateway-rpc') session.unreachChildren();
    }
  }
}
