/**
 * The house plan as checks over source text, so the architecture test can run them on src/ and
 * on synthetic violations alike: each check takes a path relative to src/ (e.g.
 * `http/app.ts`) and the file's text, and returns the violations it finds.
 *
 * Floors (rank): core 0; store 1; log 2; http and witness 3 (edges, side by side); cli 4 (wires
 * everything). Imports point down only, never sideways between two rooms of one floor. client
 * and console are separate towers for the browser: client uses core only, console uses client
 * and core; only cli (and console) may import client.
 */

export interface Violation {
  /** A stable name per rule, e.g. `points_up`. */
  readonly rule: string;
  /** Path relative to src/. */
  readonly file: string;
  readonly detail: string;
}

export const RANK: Readonly<Record<string, number>> = {
  core: 0,
  store: 1,
  client: 1,
  console: 1,
  log: 2,
  http: 3,
  witness: 3,
  cli: 4,
};

/** Rooms that may import only the listed rooms (browser code: no Node, no server layers). */
const ONLY: Readonly<Record<string, readonly string[]>> = {
  client: ['client', 'core'],
  console: ['console', 'client', 'core'],
};

/** Who may import the browser client. */
const CLIENT_USERS: readonly string[] = ['client', 'console', 'cli'];

/** Packages the browser-safe rooms (core, client, console) may import. */
const BROWSER_PACKAGES: readonly RegExp[] = [/^@noble\//];

/** One import found in a file: its specifier (undefined when computed at run time). */
export interface ImportRef {
  readonly spec: string | undefined;
  readonly dynamic: boolean;
}

/** The room (first folder under src/) a src-relative path belongs to. */
export function roomOf(path: string): string {
  return path.split('/')[0]!;
}

/** Drops comments so examples in doc comments are neither imports nor SQL. */
function stripComments(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[\s;{}])\/\/[^\n]*/g, '$1');
}

/** Every static (`import`/`export ... from`, side-effect `import '...'`) and dynamic import. */
export function importsOf(text: string): ImportRef[] {
  const code = stripComments(text);
  const out: ImportRef[] = [];
  for (const m of code.matchAll(/(?:^|[;\n])\s*(?:import|export)\s(?:[^'"`;]*?\sfrom\s*)?['"]([^'"]+)['"]/g))
    out.push({ spec: m[1]!, dynamic: false });
  for (const m of code.matchAll(/\bimport\s*\(\s*([^)]*?)\s*[,)]/g)) {
    const lit = /^(['"`])([^'"`$]*)\1$/.exec(m[1]!);
    out.push({ spec: lit ? lit[2]! : undefined, dynamic: true });
  }
  return out;
}

/** The room a relative specifier in `path` points into, or undefined if it leaves src/. */
function targetRoom(path: string, spec: string): string | undefined {
  const parts = path.split('/').slice(0, -1);
  for (const seg of spec.split('/')) {
    if (seg === '..') parts.pop();
    else if (seg !== '.') parts.push(seg);
  }
  return parts.length > 1 ? parts[0] : undefined;
}

/** Why `room` may not import from `target` (undefined: it may). */
function layeringProblem(room: string, target: string): { rule: string; why: string } | undefined {
  const only = ONLY[room];
  if (only && !only.includes(target))
    return { rule: 'browser_tower', why: `${room} may import only ${only.join(', ')}` };
  if (target === 'client' && !CLIENT_USERS.includes(room))
    return { rule: 'client_users', why: `only ${CLIENT_USERS.join(', ')} may import client` };
  if (only) return undefined;
  const from = RANK[room];
  const to = RANK[target];
  if (from === undefined || to === undefined)
    return { rule: 'unknown_room', why: `unknown room ${room} or ${target}` };
  if (to > from) return { rule: 'points_up', why: `${room} (floor ${from}) imports ${target} (floor ${to})` };
  if (to === from && target !== room)
    return {
      rule: 'same_floor',
      why: `${room} and ${target} share floor ${from}: neither imports the other`,
    };
  if (room === 'http' && target === 'store')
    return { rule: 'http_to_store', why: 'http talks to the log, not to the store' };
  return undefined;
}

/**
 * Checks the imports of one src file: layering (down only, no sideways imports on a floor, the
 * browser towers, http not into store), browser-safe packages in core/client/console, and
 * dynamic imports (checked like static ones; a computed specifier cannot be, so it is refused).
 */
export function checkImports(path: string, text: string): Violation[] {
  const room = roomOf(path);
  const out: Violation[] = [];
  if (RANK[room] === undefined)
    out.push({ rule: 'unknown_room', file: path, detail: `${room} is not on the plan` });
  for (const ref of importsOf(text)) {
    const kind = ref.dynamic ? 'dynamic import' : 'import';
    if (ref.spec === undefined) {
      out.push({ rule: 'computed_import', file: path, detail: 'dynamic import of a computed specifier' });
    } else if (ref.spec.startsWith('.')) {
      const target = targetRoom(path, ref.spec);
      const problem =
        target === undefined ? { rule: 'leaves_src', why: 'leaves src/' } : layeringProblem(room, target);
      if (problem)
        out.push({ rule: problem.rule, file: path, detail: `${kind} '${ref.spec}': ${problem.why}` });
    } else if (ONLY[room] || room === 'core') {
      if (!BROWSER_PACKAGES.some((re) => re.test(ref.spec!)))
        out.push({
          rule: 'not_browser_safe',
          file: path,
          detail: `${kind} '${ref.spec}' is not browser-safe`,
        });
    }
  }
  return out;
}

/** String literals ('…', "…", `…`) of a source text, comments removed. */
export function stringLiterals(text: string): string[] {
  const code = stripComments(text);
  return [...code.matchAll(/'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*"|`(?:[^`\\]|\\.)*`/g)].map((m) => m[0]);
}

const SQL =
  /\b(CREATE (?:TABLE|(?:UNIQUE )?INDEX)|INSERT (?:OR \w+ )?INTO|SELECT\s[\s\S]*?\sFROM|UPDATE\s[\s\S]*?\sSET|DELETE FROM)\b/;

/** SQL heuristic: a string literal that reads as a statement, in a file outside src/store/. */
export function checkSql(path: string, text: string): Violation[] {
  if (roomOf(path) === 'store') return [];
  return stringLiterals(text)
    .filter((lit) => SQL.test(lit))
    .map((lit) => ({
      rule: 'sql_outside_store',
      file: path,
      detail: `SQL belongs in src/store/: ${lit.slice(0, 60).replace(/\s+/g, ' ')}`,
    }));
}

/** The package a bare specifier names (`@scope/name` or `name`), undefined for node: builtins. */
export function packageOf(spec: string): string | undefined {
  if (spec.startsWith('.') || spec.startsWith('node:')) return undefined;
  const parts = spec.split('/');
  return spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

/**
 * Checks package.json against what src/ imports: every runtime dependency is imported by some
 * src file (one only tests or benchmarks use belongs in devDependencies), and every package
 * src imports is a runtime dependency (a devDependency is absent in a production install).
 */
export function checkDependencies(
  pkg: { dependencies?: Record<string, string> },
  sources: readonly { path: string; text: string }[],
): Violation[] {
  const deps = new Set(Object.keys(pkg.dependencies ?? {}));
  const used = new Map<string, string>();
  for (const { path, text } of sources) {
    for (const ref of importsOf(text)) {
      const name = ref.spec === undefined ? undefined : packageOf(ref.spec);
      if (name !== undefined && !used.has(name)) used.set(name, path);
    }
  }
  const out: Violation[] = [];
  for (const d of deps) {
    if (!used.has(d))
      out.push({
        rule: 'unused_runtime_dependency',
        file: 'package.json',
        detail: `${d}: no src file imports it`,
      });
  }
  for (const [name, path] of used) {
    if (!deps.has(name))
      out.push({
        rule: 'undeclared_dependency',
        file: path,
        detail: `${name} is not in package.json dependencies`,
      });
  }
  return out;
}
