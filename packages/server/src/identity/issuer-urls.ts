const SLUG = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/**
 * The issuer URL layout: tenant `slug` has the issuer `<public URL>/t/<slug>` and its access
 * tokens are for the audience `<public URL>/v1` (the tenant API). The public URL is read
 * lazily because with port 0 it is known only once the API listens.
 */
export class IssuerUrls {
  readonly #base: () => string;

  constructor(base: () => string) {
    this.#base = base;
  }

  issuer(slug: string): string {
    return `${this.#base()}/t/${slug}`;
  }

  /** The public URL of a request path of this platform. */
  url(path: string): string {
    return `${this.#base()}${path}`;
  }

  /** The one resource (RFC 8707) every tenant's access tokens are for. */
  get audience(): string {
    return `${this.#base()}/v1`;
  }

  /** The slug whose issuer `iss` is exactly, or undefined. */
  slugOf(iss: string): string | undefined {
    const prefix = `${this.#base()}/t/`;
    if (!iss.startsWith(prefix)) return undefined;
    const slug = iss.slice(prefix.length);
    return SLUG.test(slug) ? slug : undefined;
  }
}
