import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import { parseHostPort, type TlsListen } from '../../listener/index.ts';
import { CliError, EXIT } from '../cli-error.ts';

export const tlsFlags = {
  'mqtt-tls': { type: 'string' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
} as const;

type TlsValues = { [K in keyof typeof tlsFlags]?: string | boolean | undefined };

const usage = (message: string) => new CliError(message, EXIT.usage);

function readFlagFile(file: string, flag: string): Buffer {
  try {
    return readFileSync(file);
  } catch (error) {
    throw usage(`--${flag} ${file} cannot be read (${(error as NodeJS.ErrnoException).code})`);
  }
}

/** Whether OpenSSL takes `options` as a certificate, key or pair; its reason when it does not. */
function refusal(options: { cert?: Buffer; key?: Buffer }): string | undefined {
  try {
    createSecureContext(options);
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

/**
 * `--mqtt-tls HOST:PORT --tls-cert FILE --tls-key FILE`: the TLS listener with its certificate
 * and key read and checked to be a pair now, so that a bad file is a usage error at start
 * rather than a failure once devices connect.
 */
export function tlsListen(values: TlsValues): TlsListen | undefined {
  const at = values['mqtt-tls'];
  const certFile = values['tls-cert'];
  const keyFile = values['tls-key'];
  if (typeof at !== 'string') {
    if (certFile === undefined && keyFile === undefined) return undefined;
    throw usage('--tls-cert and --tls-key serve --mqtt-tls: add --mqtt-tls HOST:PORT');
  }
  if (
    typeof certFile !== 'string' ||
    certFile === '' ||
    typeof keyFile !== 'string' ||
    keyFile === ''
  )
    throw usage(
      '--mqtt-tls needs --tls-cert and --tls-key (the certificate the listener presents)',
    );
  let address: { host: string; port: number };
  try {
    address = parseHostPort(at, 'mqtt-tls');
  } catch (error) {
    throw usage((error as Error).message);
  }
  const cert = readFlagFile(certFile, 'tls-cert');
  const key = readFlagFile(keyFile, 'tls-key');
  const badCert = refusal({ cert });
  if (badCert !== undefined)
    throw usage(`--tls-cert ${certFile} is not a PEM certificate chain (${badCert})`);
  const badKey = refusal({ key });
  if (badKey !== undefined)
    throw usage(`--tls-key ${keyFile} is not an unencrypted PEM private key (${badKey})`);
  const mismatch = refusal({ cert, key });
  if (mismatch !== undefined)
    throw usage(`--tls-key ${keyFile} does not match --tls-cert ${certFile} (${mismatch})`);
  return { ...address, cert, key };
}
