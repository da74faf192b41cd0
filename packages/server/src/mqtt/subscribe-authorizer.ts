import type { Client, Subscription } from 'aedes';
import type { DeviceAuthenticator } from '../devices/index.ts';
import type { MaybePromise } from '../maybe-promise/index.ts';
import type { DeviceSession } from './device-session.ts';
import { gatewayRequest } from './gateway-rpc.ts';
import type { MqttMetrics } from './mqtt-metrics.ts';
import type { DeviceActs, RpcChannel } from './mqtt-ports.ts';
import type { Written } from './session-sender.ts';
import type { SessionTable } from './session-table.ts';
import { type SubscriptionKind, subscriptionKind, TOPIC } from './topics.ts';

/** What authorizing a SUBSCRIBE uses. */
export interface SubscribeAuthorizerOptions {
  readonly sessions: SessionTable;
  readonly metrics: MqttMetrics;
  readonly rpc: RpcChannel | undefined;
  readonly acts: DeviceActs;
  /** Whether a gateway's child is still the gateway's. */
  readonly authenticator: Pick<DeviceAuthenticator, 'current'>;
  /**
   * Sends an RPC request to one session, if it subscribed to that topic; once written, with
   * whether the device took it (see SessionSender.request).
   */
  readonly request: (
    session: DeviceSession,
    topic: string,
    body: unknown,
  ) => Promise<Written | undefined>;
  /** How long a request written to a connection waits for its PUBACK (`mqttRpcAckWaitMs`). */
  readonly rpcAckWaitMs: number;
}

/**
 * aedes' `authorizeSubscribe` and its `unsubscribe` event: a device subscribes only to the
 * topics topics.ts allows it, at QoS 1 at most, and only when the tenant lets it act
 * (DeviceActs; a refusal is a SUBACK failure, 0x80); subscribing to RPC requests attaches the
 * device (or a gateway's children) to the RPC queue, unsubscribing detaches it. A request is
 * delivered once the device (or the gateway) acknowledges it; one that a process wrote and
 * then stopped before the PUBACK goes out again once `rpcAckWaitMs` has passed since.
 */
export class SubscribeAuthorizer {
  readonly #options: SubscribeAuthorizerOptions;

  constructor(options: SubscribeAuthorizerOptions) {
    this.#options = options;
  }

  subscribe(client: Client, sub: Subscription): MaybePromise<Subscription | null> {
    const session = this.#options.sessions.get(client);
    const kind =
      session === undefined ? undefined : subscriptionKind(sub.topic, session.identity.isGateway);
    if (session === undefined || kind === undefined) {
      this.#options.metrics.refusals.inc({ reason: 'subscription_not_allowed', code: 'none' });
      return null;
    }
    const allowed = this.#options.acts.allows(session.identity, session.address, Date.now());
    if (allowed === true) return this.#subscribed(session, kind, sub);
    if (allowed === false) return this.#notAuthorized();
    return allowed.then((yes) =>
      yes ? this.#subscribed(session, kind, sub) : this.#notAuthorized(),
    );
  }

  #notAuthorized(): null {
    this.#options.metrics.refusals.inc({ reason: 'not_authorized', code: 'PALISADE_FORBIDDEN' });
    return null;
  }

  #subscribed(session: DeviceSession, kind: SubscriptionKind, sub: Subscription): Subscription {
    const qos = Math.min(sub.qos, 1) as 0 | 1;
    session.subscriptions.set(kind, qos);
    const rpc = this.#options.rpc;
    const options = { redeliverSentAfterMs: this.#options.rpcAckWaitMs };
    if (kind === 'rpc-requests' && rpc !== undefined && session.detachRpc === undefined) {
      session.detachRpc = rpc.attach(
        session.identity,
        async (request) => {
          const topic = `${TOPIC.rpcRequest}${request.requestId}`;
          const written = await this.#options.request(session, topic, request.body);
          // Not sent: the request stays queued for a connection that may have it.
          if (written === undefined)
            throw new Error('the connection may no longer receive requests');
          return written;
        },
        options,
      );
    }
    if (kind === 'gateway-rpc' && rpc !== undefined)
      session.reachChildren((name, child) =>
        rpc.attach(
          child,
          async (request) => {
            // Not sent (the child disconnected or left the gateway meanwhile, or the gateway
            // stopped listening): the request stays queued for the child's next connection.
            if (!(await this.#options.authenticator.current(child))) session.forgetChild(name);
            const written = session.reaches(name, child)
              ? await this.#options.request(
                  session,
                  TOPIC.gatewayRpc,
                  gatewayRequest(name, request),
                )
              : undefined;
            if (written === undefined)
              throw new Error('the gateway may no longer receive requests for this child');
            return written;
          },
          options,
        ),
      );
    return { ...sub, qos };
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
