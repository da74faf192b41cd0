import type { RpcJournal } from './rpc-journal.ts';

/** A platform RPC request for a device behind this node, with its deadline. */
export interface EdgeRpcRequest {
  readonly requestId: string;
  readonly deviceId: string;
  readonly method: string;
  readonly params: unknown;
  readonly expiresAt: string;
}

/** A device's answer on its way to the platform. */
export interface RpcAnswer {
  readonly requestId: string;
  readonly deviceId: string;
  readonly response: unknown;
}

/**
 * Hands a request to the device's local connections (MQTT `v1/devices/me/rpc/request/{id}`,
 * `{ method, params }`); resolves true when at least one connection took it, false when the
 * device is not connected or not subscribed yet.
 */
export type RpcDeliver = (
  deviceId: string,
  requestId: string,
  body: { readonly method: string; readonly params: unknown },
) => Promise<boolean>;

/** What the relay reports (for logs and metrics). */
export interface RpcRelayEvents {
  received?(request: EdgeRpcRequest): void;
  delivered?(request: EdgeRpcRequest): void;
  answered?(answer: RpcAnswer): void;
  expired?(request: EdgeRpcRequest, delivered: boolean): void;
}

/**
 * The node's side of downstream RPC. Requests from the platform are held until their device
 * is connected and subscribed (then delivered once), and dropped at their deadline, the same
 * deadline the platform keeps. A device may answer only a request delivered to it and not
 * yet expired; answers wait here until the link takes them to the platform. A request the
 * platform hands out again (its confirmation was lost) is delivered to the device only once.
 * With a journal, what the node holds survives a restart: a request is on disk before the
 * node confirms it to the platform.
 */
export class RpcRelay {
  readonly #held = new Map<string, EdgeRpcRequest>();
  readonly #delivered = new Map<string, EdgeRpcRequest>();
  /** Answered or expired requests until their deadline, so a request handed out again is ignored. */
  readonly #done = new Map<string, number>();
  #answers: RpcAnswer[] = [];
  #deliver: RpcDeliver = async () => false;
  readonly #events: RpcRelayEvents;
  readonly #now: () => number;
  readonly #answered: () => void;
  readonly #journal: RpcJournal | undefined;

  constructor(options: {
    /** Keeps held and delivered requests across restarts (they are read back here). */
    journal?: RpcJournal;
    events?: RpcRelayEvents;
    /** Called when an answer is waiting, so the link can send it at once. */
    onAnswer?: () => void;
    now?: () => number;
  }) {
    this.#events = options.events ?? {};
    this.#answered = options.onAnswer ?? (() => {});
    this.#now = options.now ?? Date.now;
    this.#journal = options.journal;
    for (const { request, state } of this.#journal?.load() ?? [])
      (state === 'held' ? this.#held : this.#delivered).set(request.requestId, request);
  }

  /** Sets how requests reach devices (the local listener, once it runs). */
  connect(deliver: RpcDeliver): void {
    this.#deliver = deliver;
  }

  /** Requests held or delivered and not answered yet. */
  get pending(): number {
    return this.#held.size + this.#delivered.size;
  }

  /** Takes requests from the platform and tries to deliver them now. */
  async receive(requests: readonly EdgeRpcRequest[]): Promise<void> {
    for (const request of requests) {
      const id = request.requestId;
      if (this.#held.has(id) || this.#delivered.has(id) || this.#done.has(id)) continue;
      this.#journal?.put(request, 'held');
      this.#held.set(request.requestId, request);
      this.#events.received?.(request);
    }
    await this.retry();
  }

  /** Drops what passed its deadline, then delivers held requests whose device is there now. */
  async retry(): Promise<void> {
    const now = this.#now();
    for (const [table, delivered] of [
      [this.#held, false],
      [this.#delivered, true],
    ] as const)
      for (const [id, request] of table)
        if (Date.parse(request.expiresAt) <= now) {
          table.delete(id);
          this.#journal?.remove(id);
          this.#done.set(id, Date.parse(request.expiresAt));
          this.#events.expired?.(request, delivered);
        }
    for (const [id, until] of this.#done) if (until <= now) this.#done.delete(id);
    for (const [id, request] of [...this.#held]) {
      // Another retry may have taken it meanwhile; and it counts as delivered before the send
      // resolves, since the device may answer before that.
      if (!this.#held.delete(id)) continue;
      this.#delivered.set(id, request);
      const body = { method: request.method, params: request.params };
      // A connection that fails mid-send counts as not there: the next retry tries again.
      const delivered = await this.#deliver(request.deviceId, id, body).catch(() => false);
      if (!delivered) {
        if (this.#delivered.delete(id)) this.#held.set(id, request);
        continue;
      }
      if (this.#delivered.has(id)) this.#journal?.put(request, 'delivered');
      this.#events.delivered?.(request);
    }
  }

  /** The device answered; false (and nothing kept) when the request is not its own or expired. */
  respond(deviceId: string, requestId: string, response: unknown): boolean {
    const request = this.#delivered.get(requestId);
    if (request === undefined || request.deviceId !== deviceId) return false;
    this.#delivered.delete(requestId);
    this.#journal?.remove(requestId);
    this.#done.set(requestId, Date.parse(request.expiresAt));
    if (Date.parse(request.expiresAt) <= this.#now()) {
      this.#events.expired?.(request, true);
      return false;
    }
    const answer = { requestId, deviceId, response };
    this.#answers.push(answer);
    this.#events.answered?.(answer);
    this.#answered();
    return true;
  }

  /** The answers to send now; give them back with `restore` if the send fails. */
  takeAnswers(): RpcAnswer[] {
    const answers = this.#answers;
    this.#answers = [];
    return answers;
  }

  restore(answers: readonly RpcAnswer[]): void {
    this.#answers.unshift(...answers);
  }
}
