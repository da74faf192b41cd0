/** The C2SP tlog-witness `add-checkpoint` request body. */
import { parseDecimalSize } from '../checkpoint/checkpoint.ts';
import { fromBase64, toBase64 } from '../encoding/base64.ts';
import { LedgerError } from '../errors.ts';
import { HASH_SIZE } from '../merkle/hasher.ts';

/** Most consistency proof lines a client may send. */
export const MAX_PROOF_LINES = 63;

/** A parsed add-checkpoint request. */
export interface AddCheckpointRequest {
  /** The size of the checkpoint the client believes the witness last cosigned. */
  readonly oldSize: number;
  /** Consistency proof from `oldSize` to the checkpoint's size. */
  readonly proof: readonly Uint8Array[];
  /** The signed checkpoint note. */
  readonly checkpoint: string;
}

function bad(reason: string): LedgerError {
  return new LedgerError('LEDGER_BAD_REQUEST', `add-checkpoint request: ${reason}`);
}

/** Parses `old <size>\n`, proof lines, a blank line and the checkpoint. Throws `LEDGER_BAD_REQUEST`. */
export function parseAddCheckpointRequest(body: string): AddCheckpointRequest {
  const firstEnd = body.indexOf('\n');
  const first = firstEnd < 0 ? '' : body.slice(0, firstEnd);
  if (!first.startsWith('old ')) throw bad('first line must be "old <size>"');
  const oldSize = parseDecimalSize(first.slice(4));
  if (oldSize === undefined) throw bad('old size is not a canonical decimal');
  const proof: Uint8Array[] = [];
  let at = firstEnd + 1;
  for (;;) {
    const end = body.indexOf('\n', at);
    if (end < 0) throw bad('missing the blank line before the checkpoint');
    const line = body.slice(at, end);
    at = end + 1;
    if (line === '') break;
    if (proof.length === MAX_PROOF_LINES) throw bad(`more than ${MAX_PROOF_LINES} proof lines`);
    const hash = fromBase64(line);
    if (hash?.length !== HASH_SIZE)
      throw bad(`proof line ${proof.length + 1} is not base64 of 32 bytes`);
    proof.push(hash);
  }
  return { oldSize, proof, checkpoint: body.slice(at) };
}

/** Formats an add-checkpoint request body. */
export function formatAddCheckpointRequest(request: AddCheckpointRequest): string {
  if (!Number.isSafeInteger(request.oldSize) || request.oldSize < 0)
    throw bad('old size must be a safe integer');
  if (request.proof.length > MAX_PROOF_LINES) throw bad(`more than ${MAX_PROOF_LINES} proof lines`);
  const lines = request.proof.map((hash) => `${toBase64(hash)}\n`).join('');
  return `old ${request.oldSize}\n${lines}\n${request.checkpoint}`;
}
