/**
 * Search (`GET /v1/decisions`, role read): time range, policy path, result, bundle revision
 * and source, paged by the server's cursor; a row per decision with its time, path and result,
 * linking to its decision page. The read token is typed here and kept in sessionStorage only.
 */
import { type HttpSource, VerifyError } from '../client/index.js';
import { MAX_JSON_RESPONSE_BYTES } from '../core/response-caps.js';
import { h, replace } from './dom.js';
import { readToken, saveToken } from './settings.js';

/** What the search page needs from the shell. */
export interface SearchDeps {
  readonly api: HttpSource;
  readonly root: HTMLElement;
  /** The href of an in-app path (path or hash routing). */
  readonly href: (path: string) => string;
}

interface Row {
  readonly index: number;
  readonly id: string;
  readonly source: string;
  readonly timestamp: string | null;
  readonly erased: unknown;
  readonly event: { path?: unknown; result?: unknown } | null;
}

const FIELDS: readonly [name: string, label: string, type: string][] = [
  ['path', 'Policy path', 'text'],
  ['since', 'Since', 'datetime-local'],
  ['until', 'Until', 'datetime-local'],
  ['bundle_revision', 'Bundle revision', 'text'],
  ['source', 'Source (labels.id)', 'text'],
];

/** Renders the search form into `deps.root`. */
export function showSearch(deps: SearchDeps): void {
  const results = h('div', { id: 'results', 'aria-live': 'polite' });
  const token = h('input', { id: 'token', type: 'password', autocomplete: 'off', value: readToken() ?? '' });
  const inputs = FIELDS.map(([name, , type]) => h('input', { id: `f-${name}`, name, type }));
  const result = h(
    'select',
    { id: 'f-result', name: 'result' },
    ['', 'true', 'false', 'undefined', 'value'].map((v) => h('option', { value: v }, v || 'any')),
  );
  const cursors: (string | null)[] = [null];
  const query = (cursor: string | null): string => {
    const q = new URLSearchParams();
    for (const el of [...inputs, result]) {
      let v = el.value.trim();
      if (v === '') continue;
      if (el.type === 'datetime-local') v = new Date(v).toISOString();
      q.set(el.name, el.name === 'path' ? v.replace(/^\/+/, '') : v);
    }
    q.set('limit', '20');
    if (cursor !== null) q.set('cursor', cursor);
    return `v1/decisions?${q}`;
  };
  const load = async (page: number) => {
    saveToken(token.value.trim());
    replace(results, h('p', { role: 'status' }, 'Searching…'));
    try {
      const t = readToken();
      const body = (await deps.api.json(
        query(cursors[page]!),
        MAX_JSON_RESPONSE_BYTES,
        t ? { Authorization: `Bearer ${t}` } : {},
      )) as {
        decisions: Row[];
        next_cursor: string | null;
      };
      cursors[page + 1] = body.next_cursor;
      replace(results, table(deps, body.decisions, page, body.next_cursor !== null, load));
    } catch (err) {
      const msg =
        err instanceof VerifyError && err.code === 'unauthorized' ? 'a read token is needed' : String(err);
      replace(results, h('p', { class: 'warn', role: 'alert' }, `Search failed: ${msg}`));
    }
  };
  const form = h(
    'form',
    {
      class: 'search',
      'aria-label': 'Search decisions',
      onsubmit: (ev: Event) => {
        ev.preventDefault();
        void load(0);
      },
    },
    FIELDS.map(([name, label], i) => h('div', null, h('label', { for: `f-${name}` }, label), inputs[i]!)),
    h('div', null, h('label', { for: 'f-result' }, 'Result'), result),
    h('div', null, h('label', { for: 'token' }, 'Read token (kept in this tab only)'), token),
    h('button', { type: 'submit', id: 'search-button' }, 'Search'),
  );
  replace(deps.root, h('h1', null, 'Search decisions'), form, results);
}

const COLUMNS = ['Time', 'Policy path', 'Result', 'Decision'] as const;

/** A cell of column `i`, labelled with its header for the stacked phone layout. */
function cell(i: number, content: string | HTMLElement): HTMLElement {
  return h('td', { role: 'cell', 'data-label': COLUMNS[i] }, content);
}

function table(
  deps: SearchDeps,
  rows: readonly Row[],
  page: number,
  more: boolean,
  load: (page: number) => Promise<void>,
): HTMLElement {
  if (rows.length === 0 && page === 0) return h('p', { role: 'status' }, 'No decision matches.');
  const link = (r: Row) =>
    deps.href(`/decisions/${encodeURIComponent(r.id)}?source=${encodeURIComponent(r.source)}`);
  return h(
    'div',
    null,
    h(
      'div',
      { class: 'scroll' },
      h(
        'table',
        // Explicit roles: the phone layout restyles the cells as blocks, which drops table semantics.
        { class: 'results', role: 'table' },
        h('caption', null, `Page ${page + 1}`),
        h(
          'thead',
          { role: 'rowgroup' },
          h(
            'tr',
            { role: 'row' },
            COLUMNS.map((c) => h('th', { scope: 'col', role: 'columnheader' }, c)),
          ),
        ),
        h(
          'tbody',
          { role: 'rowgroup' },
          rows.map((r) =>
            h(
              'tr',
              { role: 'row' },
              cell(0, r.timestamp ?? ''),
              cell(1, String(r.event?.path ?? '')),
              cell(2, r.erased ? 'erased' : JSON.stringify(r.event?.result ?? null)),
              cell(3, h('a', { href: link(r), 'data-nav': true }, r.id)),
            ),
          ),
        ),
      ),
    ),
    h(
      'nav',
      { class: 'pager', 'aria-label': 'Result pages' },
      page > 0 ? h('button', { type: 'button', onclick: () => void load(page - 1) }, '← Previous') : null,
      more ? h('button', { type: 'button', onclick: () => void load(page + 1) }, 'Next →') : null,
    ),
  );
}
