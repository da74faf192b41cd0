import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { assertBuilt, type RunningServer, startServer } from './support/palisade-process.ts';

const README = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');

/** The bash block after the walkthrough marker, exactly as a reader would paste it. */
function walkthrough(): string {
  const marker = README.indexOf('<!-- walkthrough:');
  assert.ok(marker >= 0, 'README has a walkthrough block');
  const block = /```bash\n([\s\S]*?)```/.exec(README.slice(marker));
  assert.ok(block !== null);
  return block[1]!;
}

let server: RunningServer;
const data = mkdtempSync(join(tmpdir(), 'palisade-walkthrough-'));

before(async () => {
  assertBuilt();
  server = await startServer(['--data', data, '--listen', '127.0.0.1:0'], { expectToken: true });
});
after(async () => {
  await server.stop('SIGTERM');
  rmSync(data, { recursive: true, force: true });
});

test("the README's curl walk-through works as written", async () => {
  const script = walkthrough()
    .replace(/^export PALISADE_URL=.*$/m, `export PALISADE_URL=${server.url}`)
    .replace(/^export PALISADE_TOKEN=.*$/m, `export PALISADE_TOKEN=${server.generatedToken}`);
  const output = await new Promise<string>((resolve, reject) => {
    execFile(
      'bash',
      ['-euo', 'pipefail', '-c', script],
      { timeout: 60_000 },
      (error, stdout, stderr) =>
        error === null
          ? resolve(stdout)
          : reject(new Error(`${String(error)}\n${stderr}\n${stdout}`)),
    );
  });
  assert.match(output, /"name":"patients"/);
  assert.match(output, /"ward":"C"/);
  assert.match(output, /"nextCursor":null/);
});
