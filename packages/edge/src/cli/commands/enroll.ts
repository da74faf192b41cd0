import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { CLIENT_ATTRIBUTES_FILE, SHARED_ATTRIBUTES_FILE } from '../../attributes/index.ts';
import { acquireNodeDirLock, NodeDirInUseError } from '../../node-dir-lock.ts';
import {
  type NodeFile,
  newOutboxKey,
  nodeFilePath,
  OUTBOX_FILE,
  replaceNodeFile,
  writeNodeFile,
} from '../../node-file.ts';
import { RPC_JOURNAL_FILE } from '../../rpc/index.ts';
import { enrolledNode, flags, required } from '../args.ts';
import { CliError, EXIT } from '../cli-error.ts';

const spki = (k: KeyObject) => k.export({ format: 'der', type: 'spki' }).toString('base64');
const pkcs8 = (k: KeyObject) => k.export({ format: 'pem', type: 'pkcs8' }).toString();

function refuseExisting(dir: string): never {
  throw new CliError(
    `${nodeFilePath(dir)} already holds an enrollment; it is never overwritten. To enroll again, use a new --dir; to take the token of a rekey (POST /v1/edge-nodes/{id}/rekey), add --rekey`,
  );
}

/** What a node keeps beside node.json sealed under that file's outbox key. */
const SEALED_FILES = [
  OUTBOX_FILE,
  RPC_JOURNAL_FILE,
  SHARED_ATTRIBUTES_FILE,
  CLIENT_ATTRIBUTES_FILE,
];

/**
 * Refuses a directory that still holds an earlier enrollment's data without its node.json: a
 * new node could not open its sealed outbox, and would be stuck behind it for good.
 */
function refuseLeftovers(dir: string): void {
  const found = SEALED_FILES.filter((file) => existsSync(join(dir, file)));
  if (found.length > 0)
    throw new CliError(
      `${dir} holds ${found.join(', ')} of an earlier enrollment, sealed under the key of the node.json that is gone: restore that node.json to go on with that node, or enroll into a new --dir`,
    );
}

async function post(url: URL, body: unknown): Promise<{ status: number; text: string }> {
  try {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: response.status, text: await response.text() };
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).message;
    throw new CliError(
      `cannot reach the platform at ${url.origin} (${cause}); check the URL and the network, then run enroll again (the token was not spent)`,
      EXIT.unreachable,
    );
  }
}

/** Fresh keys, enrolled with the platform by `token`: the node file's fields but the outbox key. */
async function enrollKeys(base: URL, token: string) {
  const ed = generateKeyPairSync('ed25519');
  const ml = generateKeyPairSync('ml-dsa-65' as 'ed25519');
  const answer = await post(new URL('/v1/edge/enroll', base), {
    token,
    ed25519: spki(ed.publicKey),
    mldsa65: spki(ml.publicKey),
  });
  if (answer.status !== 201) {
    let detail = answer.text.slice(0, 300);
    try {
      detail = (JSON.parse(answer.text) as { detail?: string }).detail ?? detail;
    } catch {}
    throw new CliError(
      `the platform refused the enrollment (${answer.status}: ${detail}); ask the tenant for a new enrollment token (POST /v1/edge-nodes/enrollment-tokens, or /v1/edge-nodes/{id}/rekey for this node) and run enroll again`,
    );
  }
  const body = JSON.parse(answer.text) as {
    nodeId: string;
    credential: string;
    keyVersion: number;
  };
  return {
    version: 1 as const,
    url: base.origin,
    nodeId: body.nodeId,
    credential: body.credential,
    keyVersion: body.keyVersion,
    enrolledAt: new Date().toISOString(),
    ed25519: pkcs8(ed.privateKey),
    mldsa65: pkcs8(ml.privateKey),
  };
}

function urlOf(value: string): URL {
  try {
    return new URL(value);
  } catch {
    throw new CliError(`--url is not a URL: ${value}`, EXIT.usage);
  }
}

/**
 * `palisade-edge enroll --token TOKEN --dir DIR --rekey [--url URL]`: takes a rekey's token
 * for the node enrolled in DIR, keeping its id and outbox (key included), so that what the
 * outbox holds is still sent, signed with the new keys, and applied exactly once by (node,
 * batch id). Refused while an agent runs on DIR: it holds the old credential.
 */
async function rekey(dir: string, token: string, url: string | undefined): Promise<number> {
  const old = enrolledNode(dir);
  let lock: ReturnType<typeof acquireNodeDirLock>;
  try {
    lock = acquireNodeDirLock(dir);
  } catch (error) {
    if (error instanceof NodeDirInUseError) throw new CliError(error.message);
    throw error;
  }
  try {
    const enrolled = await enrollKeys(urlOf(url ?? old.url), token);
    if (enrolled.nodeId !== old.nodeId)
      throw new CliError(
        `the token enrolled a new node ${enrolled.nodeId}, not this node ${old.nodeId}: ${dir} is left as it was. Disable that node (PATCH /v1/edge-nodes/${enrolled.nodeId}), and run enroll --rekey again with the token POST /v1/edge-nodes/${old.nodeId}/rekey returns`,
      );
    replaceNodeFile(dir, { ...enrolled, outboxKey: old.outboxKey });
    process.stdout.write(
      `re-keyed node ${old.nodeId} (key version ${enrolled.keyVersion}); its outbox is kept and sent with the new keys; next: palisade-edge start --dir ${dir}\n`,
    );
  } finally {
    lock.release();
  }
  return EXIT.ok;
}

/** `palisade-edge enroll --url URL --token TOKEN --dir DIR [--rekey]`. */
export async function enroll(argv: string[]): Promise<number> {
  const values = flags(argv, {
    url: { type: 'string' },
    token: { type: 'string' },
    dir: { type: 'string' },
    rekey: { type: 'boolean' },
  });
  const dir = required(values.dir, 'dir');
  const token = required(values.token, 'token');
  if (values.rekey === true) return rekey(dir, token, values.url);
  const base = urlOf(required(values.url, 'url'));
  if (existsSync(nodeFilePath(dir))) refuseExisting(dir);
  refuseLeftovers(dir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const node: NodeFile = { ...(await enrollKeys(base, token)), outboxKey: newOutboxKey() };
  try {
    writeNodeFile(dir, node);
  } catch (error) {
    if ((error as { code?: string }).code === 'EEXIST') refuseExisting(dir);
    throw error;
  }
  process.stdout.write(
    `enrolled node ${node.nodeId} with ${base.origin}; its keys are in ${nodeFilePath(dir)} (mode 0600, back it up); next: palisade-edge start --dir ${dir}\n`,
  );
  return EXIT.ok;
}
