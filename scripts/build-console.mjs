#!/usr/bin/env node
/**
 * Builds the web console (src/console) into dist/console-www: one minified ES module and one
 * stylesheet with content hashes in their names (served immutable), and two shells:
 * index.html (served by `opa-tlog serve`; marked so the page reads its own origin) and
 * static.html (for `opa-tlog console --out DIR`: relative asset paths, asks for the log URL).
 * Everything is bundled: the pages load nothing from anywhere else.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { build } from 'esbuild';

const root = join(import.meta.dirname, '..');
const out = join(root, 'dist', 'console-www');
rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, 'assets'), { recursive: true });

const result = await build({
  entryPoints: { app: join(root, 'src/console/app.ts'), style: join(root, 'src/console/console.css') },
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  minify: true,
  legalComments: 'none',
  entryNames: '[name]-[hash]',
  outdir: join(out, 'assets'),
  metafile: true,
  logLevel: 'warning',
});
const files = Object.keys(result.metafile.outputs).map((p) => basename(p));
const js = files.find((f) => f.endsWith('.js'));
const css = files.find((f) => f.endsWith('.css'));
if (!js || !css) throw new Error(`console build produced ${files.join(', ')}`);

const shell = (prefix, marker) => `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
${marker ? '<meta name="opa-tlog-log" content="same-origin">\n' : ''}<meta name="referrer" content="no-referrer">
<title>opa-tlog console</title>
<link rel="stylesheet" href="${prefix}assets/${css}">
<script type="module" src="${prefix}assets/${js}"></script>
</head>
<body><noscript>The opa-tlog console verifies the log in your browser: it needs JavaScript.</noscript></body>
</html>
`;
writeFileSync(join(out, 'index.html'), shell('/', true));
writeFileSync(join(out, 'static.html'), shell('./', false));
console.log(`console: dist/console-www (${js}, ${css})`);
