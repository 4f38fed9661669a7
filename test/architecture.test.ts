/**
 * The house rule, checked (plan and checks in test/helpers/architecture.ts, the prose in
 * spec/architecture.md): imports point down only and never sideways between two rooms of one
 * floor, dynamic imports included; http talks to the log, not the store; the client (and
 * console) depend on core alone and stay browser-safe; no SQL outside src/store/; every runtime
 * dependency is used by src/; every room has a README. Each rule is also fed a synthetic
 * violation, to prove it can fail.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, test } from 'vitest';
import {
  checkDependencies,
  checkImports,
  checkSql,
  importsOf,
  type Violation,
} from './helpers/architecture.js';

const ROOT = join(import.meta.dirname, '..');
const SRC = join(ROOT, 'src');

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

const show = (vs: Violation[]) => vs.map((v) => `${v.rule}: ${v.file}: ${v.detail}`);

describe('layering', () => {
  const sources = files(SRC).map((p) => ({ path: relative(SRC, p), text: readFileSync(p, 'utf8') }));
  test('source tree is non-empty', () => expect(sources.length).toBeGreaterThan(5));
  for (const { path, text } of sources) {
    test(`${path} imports only what its room may, and holds no SQL unless in store/`, () => {
      const found = [...checkImports(path, text), ...checkSql(path, text)];
      expect(show(found)).toEqual([]);
    });
  }

  test('every room has a README.md saying what it holds, linked from spec/architecture.md', () => {
    const plan = readFileSync(join(ROOT, 'spec', 'architecture.md'), 'utf8');
    const rooms = readdirSync(SRC).filter((d) => statSync(join(SRC, d)).isDirectory());
    const missing = rooms.filter((d) => {
      const readme = join(SRC, d, 'README.md');
      const ok = existsSync(readme) && readFileSync(readme, 'utf8').trim().length > 80;
      return !ok || !plan.includes(`../src/${d}/README.md`);
    });
    expect(missing).toEqual([]);
  });

  test('package.json: runtime dependencies are exactly what src/ imports', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
      dependencies?: Record<string, string>;
    };
    expect(show(checkDependencies(pkg, sources))).toEqual([]);
  });
});

describe('each rule fails on a synthetic violation', () => {
  const rules = (vs: Violation[]) => vs.map((v) => v.rule);

  test('an import pointing up', () => {
    expect(rules(checkImports('store/x.ts', "import { TransparencyLog } from '../log/log.js';"))).toEqual([
      'points_up',
    ]);
    expect(rules(checkImports('core/x.ts', "export { a } from '../http/app.js';"))).toEqual(['points_up']);
    expect(rules(checkImports('log/x.ts', "import { LogStore } from '../store/log-store.js';"))).toEqual([]);
  });

  test('an import sideways between two rooms of one floor (http <-> witness); cli may import anything', () => {
    expect(rules(checkImports('witness/x.ts', "import { readBody } from '../http/body.js';"))).toEqual([
      'same_floor',
    ]);
    expect(rules(checkImports('http/x.ts', "import type { Witness } from '../witness/witness.js';"))).toEqual(
      ['same_floor'],
    );
    const cli =
      "import { createApp } from '../http/app.js';\nimport { Witness } from '../witness/witness.js';";
    expect(rules(checkImports('cli/x.ts', cli))).toEqual([]);
  });

  test('http importing the store', () => {
    expect(rules(checkImports('http/x.ts', "import { LogStore } from '../store/log-store.js';"))).toEqual([
      'http_to_store',
    ]);
  });

  test('a dynamic import breaking the layering, and a computed one', () => {
    const text = "const { tileRoutes } = await import('../http/tiles.js');";
    expect(rules(checkImports('log/x.ts', text))).toEqual(['points_up']);
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the source text of a computed import
    const computed = 'const m = await import(`../${name}.js`);';
    expect(rules(checkImports('core/x.ts', computed))).toEqual(['computed_import']);
    expect(importsOf("type T = typeof import('./y.js');\n// import('../cli/main.js')")).toEqual([
      { spec: './y.js', dynamic: true },
    ]);
  });

  test('the browser towers: client uses core only, and only cli/console import client', () => {
    expect(rules(checkImports('client/x.ts', "import { openDb } from '../store/db.js';"))).toEqual([
      'browser_tower',
    ]);
    expect(rules(checkImports('log/x.ts', "import { LogClient } from '../client/client.js';"))).toEqual([
      'client_users',
    ]);
    expect(rules(checkImports('console/x.ts', "import { LogClient } from '../client/client.js';"))).toEqual(
      [],
    );
    expect(rules(checkImports('core/x.ts', "import { readFileSync } from 'node:fs';"))).toEqual([
      'not_browser_safe',
    ]);
    expect(rules(checkImports('client/x.ts', "import { Decoder } from 'cbor-x';"))).toEqual([
      'not_browser_safe',
    ]);
    expect(rules(checkImports('core/x.ts', "import { sha256 } from '@noble/hashes/sha2.js';"))).toEqual([]);
  });

  test('SQL in a string literal outside src/store/', () => {
    const sql = 'db.prepare(`SELECT size, root\n  FROM checkpoints WHERE size = ?`).get(n);';
    expect(rules(checkSql('log/x.ts', sql))).toEqual(['sql_outside_store']);
    expect(rules(checkSql('witness/x.ts', "db.exec('CREATE TABLE IF NOT EXISTS w (a)');"))).toEqual([
      'sql_outside_store',
    ]);
    expect(rules(checkSql('log/x.ts', `db.run("INSERT OR IGNORE INTO t VALUES (?)");`))).toEqual([
      'sql_outside_store',
    ]);
    expect(checkSql('store/x.ts', sql)).toEqual([]);
    expect(checkSql('log/x.ts', "// SELECT a FROM b in a comment\nconst s = 'select the newest';")).toEqual(
      [],
    );
  });

  test('a runtime dependency only tests use, and a src import of a package not in dependencies', () => {
    const sources = [{ path: 'core/x.ts', text: "import { sha256 } from '@noble/hashes/sha2.js';" }];
    const pkg = { dependencies: { '@noble/hashes': '^2', 'cbor-x': '^1' } };
    expect(show(checkDependencies(pkg, sources))).toEqual([
      'unused_runtime_dependency: package.json: cbor-x: no src file imports it',
    ]);
    const uses = [...sources, { path: 'cli/x.ts', text: "import { build } from 'esbuild';" }];
    expect(rules(checkDependencies({ dependencies: { '@noble/hashes': '^2' } }, uses))).toEqual([
      'undeclared_dependency',
    ]);
  });
});
