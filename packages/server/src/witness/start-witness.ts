/** Assembles a witness process from its configuration: keys, state file, logs, HTTP. */
import pino, { type Logger } from 'pino';
import { ConfigError } from '../config/index.ts';
import { loadWitnessKeys, type WitnessKeys } from './witness-keys.ts';
import { parseWitnessLogs } from './witness-logs.ts';
import { listenWitness } from './witness-server.ts';
import { Witness } from './witness-service.ts';
import { WitnessState } from './witness-state.ts';

/** How to run a witness (what `palisade witness` passes in). */
export interface WitnessConfig {
  /** `HOST:PORT` to listen on; port 0 picks a free one. */
  readonly listen: string;
  /** Path of the key file made by `palisade witness keygen`. */
  readonly keyFile: string;
  /** Path of the SQLite state file (created if missing). */
  readonly stateFile: string;
  /** `ORIGIN=VKEY` for each log key the witness trusts; repeat an origin for each key. */
  readonly logs: readonly string[];
  /** Defaults to a pino JSON logger on stdout at {@link logLevel}. */
  readonly logger?: Logger;
  /** Level of the default logger: `info` unless given. */
  readonly logLevel?: string;
  /** Milliseconds since the epoch, for cosignature timestamps (tests). */
  readonly now?: () => number;
}

/** A running witness. */
export interface RunningWitness {
  /** `http://host:port`, the submission prefix (`POST {url}/add-checkpoint`). */
  readonly url: string;
  readonly keys: WitnessKeys;
  readonly logger: Logger;
  /** Stops taking requests, lets in-flight ones finish, closes the state file. Idempotent. */
  close(): Promise<void>;
}

/** Splits `HOST:PORT` (IPv6 hosts in brackets). Throws `ConfigError`. */
export function parseListen(listen: string): { host: string; port: number } {
  const index = listen.lastIndexOf(':');
  const host = listen.slice(0, Math.max(0, index)).replace(/^\[|\]$/g, '');
  const port = Number(listen.slice(index + 1));
  if (index < 1 || host === '' || !/^\d+$/.test(listen.slice(index + 1)) || port > 65535)
    throw new ConfigError(`--listen ${JSON.stringify(listen)} must be HOST:PORT`);
  return { host, port };
}

/** Loads the keys, opens the state, listens, and logs "witness is listening" with its url. */
export async function startWitness(config: WitnessConfig): Promise<RunningWitness> {
  const level = config.logLevel ?? 'info';
  if (!(level in pino.levels.values) && level !== 'silent')
    throw new ConfigError(`--log-level ${JSON.stringify(level)} is not a pino level`);
  const logger = config.logger ?? pino({ level });
  const { host, port } = parseListen(config.listen);
  const logs = parseWitnessLogs(config.logs);
  const keys = loadWitnessKeys(config.keyFile);
  const state = WitnessState.open(config.stateFile);
  try {
    const witness = new Witness({ state, logs, signers: keys.signers, logger, now: config.now });
    const server = await listenWitness({ host, port, witness, logger });
    let closed: Promise<void> | undefined;
    const close = () => {
      closed ??= server.close().finally(() => state.close());
      return closed;
    };
    logger.info(
      {
        url: server.url,
        name: keys.name,
        vkeys: keys.vkeys,
        logs: logs.map((log) => log.origin),
        cosigned: state.all().map(({ origin, size }) => ({ origin, size })),
      },
      'witness is listening',
    );
    return { url: server.url, keys, logger, close };
  } catch (error) {
    state.close();
    throw error;
  }
}
