/**
 * `npm run bench -- NAME [args]` runs bench/NAME.ts. Each benchmark prints its own figures
 * and, where a peer exists on this machine, the peer's figure from the same run and the ratio.
 */
import { readdir } from 'node:fs/promises';

const [name, ...args] = process.argv.slice(2);
const available = (await readdir(new URL('.', import.meta.url)))
  .filter((f) => f.endsWith('.ts') && f !== 'run.ts' && !f.startsWith('_'))
  .map((f) => f.slice(0, -3))
  .sort();
if (name === undefined || !available.includes(name)) {
  console.error(`usage: npm run bench -- NAME\navailable: ${available.join(', ')}`);
  process.exit(2);
}
const bench = (await import(`./${name}.ts`)) as { run(args: string[]): Promise<void> };
await bench.run(args);
