/**
 * The sync loop's POST of a batch, over node:http(s) rather than fetch because it must know
 * when the body has left: only then may the loop spend its thread forming the next batch
 * (forming earlier would hold the request back, and the platform would wait for it).
 */
import http from 'node:http';
import https from 'node:https';

/** The platform's answer to a batch. */
export interface BatchAnswer {
  readonly status: number;
  readonly text: string;
  readonly retryAfter: string | null;
  /** The platform's `Date` header: its clock, to the second. */
  readonly date: string | null;
}

const AGENTS = {
  http: new http.Agent({ keepAlive: true }),
  https: new https.Agent({ keepAlive: true }),
};

/**
 * POSTs `body` (JSON) to `url` with the node's bearer credential. `sent` resolves once the
 * body is handed to the socket (never, if the request fails first); `answer` rejects on a
 * network failure or after `timeoutMs`.
 */
export function postBatch(
  url: URL,
  credential: string,
  body: string,
  timeoutMs: number | undefined,
): { sent: Promise<void>; answer: Promise<BatchAnswer> } {
  const secure = url.protocol === 'https:';
  let sent!: () => void;
  const out = new Promise<void>((resolve) => {
    sent = resolve;
  });
  const answer = new Promise<BatchAnswer>((resolve, reject) => {
    const request = (secure ? https : http).request(
      url,
      {
        method: 'POST',
        agent: secure ? AGENTS.https : AGENTS.http,
        headers: {
          authorization: `Bearer ${credential}`,
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
        },
        ...(timeoutMs === undefined ? {} : { signal: AbortSignal.timeout(timeoutMs) }),
      },
      (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => {
          text += chunk;
        });
        response.on('error', reject);
        response.on('end', () => {
          resolve({
            status: response.statusCode ?? 0,
            text,
            retryAfter: response.headers['retry-after'] ?? null,
            date: response.headers.date ?? null,
          });
        });
      },
    );
    request.on('error', reject);
    request.end(body, sent);
  });
  return { sent: out, answer };
}
