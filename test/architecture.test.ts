/**
 * The house rule, checked: imports point down only (edges -> log -> store -> core), the
 * client depends on core alone, and the core stays browser-safe (no Node modules, no I/O
 * packages).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, test } from 'vitest';

const SRC = join(import.meta.dirname, '..', 'src');
const RANK: Record<string, number> = {
  core: 0,
  store: 1,
  log: 2,
  http: 3,
  witness: 3,
  cli: 4,
  client: 1,
  console: 1,
};
const CORE_PACKAGES = [/^@noble\//, /^cbor-x$/];

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

function imports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/^\s*(?:import|export)\s[^'"]*?from\s+'([^']+)'/gm)].map((m) => m[1]!);
}

describe('layering', () => {
  const all = files(SRC);
  test('source tree is non-empty', () => expect(all.length).toBeGreaterThan(5));
  for (const file of all) {
    const layer = relative(SRC, file).split('/')[0]!;
    test(`${relative(SRC, file)} imports only what its layer may`, () => {
      expect(RANK[layer], `unknown layer ${layer}`).toBeDefined();
      for (const spec of imports(file)) {
        if (spec.startsWith('.')) {
          const target = relative(SRC, join(file, '..', spec)).split('/')[0]!;
          if (layer === 'client') expect(['client', 'core'], `${spec}`).toContain(target);
          else if (layer === 'console') expect(['console', 'client', 'core'], `${spec}`).toContain(target);
          else expect(RANK[target]!, `${spec} points up`).toBeLessThanOrEqual(RANK[layer]!);
          if (target === 'client') expect(['client', 'cli', 'console'], `${spec}`).toContain(layer);
        } else if (layer === 'core' || layer === 'client' || layer === 'console') {
          expect(
            CORE_PACKAGES.some((re) => re.test(spec)),
            `${spec} is not browser-safe`,
          ).toBe(true);
        }
      }
    });
  }
});
