import { Periodic, type PeriodicSettings } from '../periodic.ts';
import { callPlatform } from '../platform-call.ts';
import type { NodeIdentity } from '../sync.ts';
import type { CachedDevice, CredentialCache, DeviceCa } from './credential-cache.ts';

/** Named settings of the credential refresh. */
export interface RefreshSettings extends PeriodicSettings {
  readonly requestTimeoutMs: number;
}

export const DEFAULT_REFRESH: RefreshSettings = {
  intervalMs: 60_000,
  retryMs: 5_000,
  requestTimeoutMs: 30_000,
};

/** What the refresh reports (for logs). */
export interface RefreshEvents {
  refreshed?(devices: number): void;
  /** The cache keeps serving meanwhile. */
  failed?(error: unknown, retryInMs: number): void;
}

interface Page {
  readonly items: CachedDevice[];
  readonly nextCursor: string | null;
}

/**
 * Pulls the credential hashes of the node's devices from the platform (`GET
 * /v1/edge/device-credentials`, node credential) page by page, then its tenant's device CAs
 * (`GET /v1/edge/device-cas`), and replaces the cache only once all of it arrived, so a
 * refresh cut half-way leaves the previous set in service.
 */
export class CredentialRefresh {
  readonly #cache: CredentialCache;
  readonly #node: NodeIdentity;
  readonly #settings: RefreshSettings;
  readonly #loop: Periodic;

  constructor(
    cache: CredentialCache,
    node: NodeIdentity,
    settings: RefreshSettings = DEFAULT_REFRESH,
    events: RefreshEvents = {},
  ) {
    this.#cache = cache;
    this.#node = node;
    this.#settings = settings;
    this.#loop = new Periodic(
      async (signal) => {
        const devices = await this.refreshOnce(signal);
        events.refreshed?.(devices);
      },
      settings,
      (error, retryInMs) => events.failed?.(error, retryInMs),
    );
  }

  async #get(path: string, signal: AbortSignal | undefined): Promise<unknown> {
    const answer = await callPlatform(this.#node, 'GET', path, {
      timeoutMs: this.#settings.requestTimeoutMs,
      ...(signal === undefined ? {} : { signal }),
    });
    return JSON.parse(answer.text);
  }

  #page(cursor: string | null, signal: AbortSignal | undefined): Promise<Page> {
    // The platform's default page size, which its page-size-max setting always allows.
    const query = cursor === null ? '' : `?${new URLSearchParams({ cursor })}`;
    return this.#get(`/v1/edge/device-credentials${query}`, signal) as Promise<Page>;
  }

  /**
   * Fetches every page and replaces the cache; throws (leaving the cache as it was) on failure
   * or when `signal` aborts.
   */
  async refreshOnce(signal?: AbortSignal): Promise<number> {
    const devices: CachedDevice[] = [];
    let cursor: string | null = null;
    do {
      const page = await this.#page(cursor, signal);
      devices.push(...page.items);
      cursor = page.nextCursor;
    } while (cursor !== null);
    const cas = (await this.#get('/v1/edge/device-cas', signal)) as { items: DeviceCa[] };
    this.#cache.replace(devices, new Date(), cas.items);
    return devices.length;
  }

  /** Refreshes now, then every `intervalMs` (after a failure: `retryMs`, or the platform's Retry-After). */
  start(): void {
    this.#loop.start();
  }

  /** Ends the refreshes; resolves once a refresh in flight has finished. */
  stop(): Promise<void> {
    return this.#loop.stop();
  }
}
