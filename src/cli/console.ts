/**
 * `opa-tlog console --out DIR`: writes the web console as plain static files (index.html and
 * hashed assets) that an auditor can host on their own origin; opened with
 * `?log=<log URL>&vkey=<verifier key>` they read any opa-tlog log through CORS, so not even the
 * log's operator serves the verifier code.
 */
import { copyFileSync, mkdirSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { defaultConsoleDir } from '../http/console.js';
import { ConfigError } from './config.js';

const USAGE = `usage: opa-tlog console --out DIR
  writes the web console as static files into DIR (created if needed); host them anywhere
  and open index.html?log=<log URL>&vkey=<verifier key>`;

/** Runs `opa-tlog console`; returns the exit code. */
export function runConsole(argv: string[]): number {
  const { values } = parseArgs({
    args: argv,
    options: { out: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (!values.out) throw new ConfigError(`console needs --out DIR\n${USAGE}`);
  const src = defaultConsoleDir();
  if (src === undefined) throw new ConfigError('the web console is not built (npm run build)');
  const out = resolve(values.out);
  mkdirSync(join(out, 'assets'), { recursive: true });
  for (const f of readdirSync(join(src, 'assets')))
    copyFileSync(join(src, 'assets', f), join(out, 'assets', f));
  copyFileSync(join(src, 'static.html'), join(out, 'index.html'));
  console.log(`wrote the console to ${out}; open index.html?log=<log URL>&vkey=<verifier key>`);
  return 0;
}
