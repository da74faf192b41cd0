import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { type NodeFile, newOutboxKey, nodeFilePath, writeNodeFile } from '../../node-file.ts';
import { flags, required } from '../args.ts';
import { CliError, EXIT } from '../cli-error.ts';

const spki = (k: KeyObject) => k.export({ format: 'der', type: 'spki' }).toString('base64');
const pkcs8 = (k: KeyObject) => k.export({ format: 'pem', type: 'pkcs8' }).toString();

function refuseExisting(dir: string): never {
  throw new CliError(
    `${nodeFilePath(dir)} already holds an enrollment; it is never overwritten. To enroll again, use a new --dir (or move that file away first)`,
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

/** `palisade-edge enroll --url URL --token TOKEN --dir DIR`. */
export async function enroll(argv: string[]): Promise<number> {
  const values = flags(argv, {
    url: { type: 'string' },
    token: { type: 'string' },
    dir: { type: 'string' },
  });
  const dir = required(values.dir, 'dir');
  const token = required(values.token, 'token');
  let base: URL;
  try {
    base = new URL(required(values.url, 'url'));
  } catch (error) {
    if (error instanceof CliError) throw error;
    throw new CliError(`--url is not a URL: ${String(values.url)}`, EXIT.usage);
  }
  if (existsSync(nodeFilePath(dir))) refuseExisting(dir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
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
      `the platform refused the enrollment (${answer.status}: ${detail}); ask the tenant for a new enrollment token (POST /v1/edge-nodes/enrollment-tokens) and run enroll again`,
    );
  }
  const body = JSON.parse(answer.text) as {
    nodeId: string;
    credential: string;
    keyVersion: number;
  };
  const node: NodeFile = {
    version: 1,
    url: base.origin,
    nodeId: body.nodeId,
    credential: body.credential,
    keyVersion: body.keyVersion,
    enrolledAt: new Date().toISOString(),
    ed25519: pkcs8(ed.privateKey),
    mldsa65: pkcs8(ml.privateKey),
    outboxKey: newOutboxKey(),
  };
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
