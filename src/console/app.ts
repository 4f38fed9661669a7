/**
 * The console's entry point: the shell (header, navigation, main), the router (paths when the
 * log serves the page, `#/...` in the static build), and the settings page (log URL, pinned
 * key and witness policy, read token). Pages get a verifying client only once a key is pinned.
 */
import { HttpSource } from '../client/index.js';
import { parsePolicy } from '../core/policy.js';
import { showDecision } from './decision.js';
import { h, replace } from './dom.js';
import { fingerprint } from './format.js';
import { showOverview } from './overview.js';
import { showSearch } from './search.js';
import {
  type ConsoleEnv,
  detectEnv,
  normalizeLogUrl,
  pinKey,
  pinnedKey,
  pinnedPolicy,
  pinPolicy,
  saveLogUrl,
} from './settings.js';
import { establishTrust, fetchStats } from './trust.js';

let env: ConsoleEnv = detectEnv();
let stop: (() => void) | undefined;
const main = h('main', { id: 'main', tabindex: -1 });

/** The href of an in-app path: itself when served by the log, `#path` in the static build. */
function href(path: string): string {
  return env.served ? path : `#${path}`;
}

/** The current in-app path and query. */
function current(): URL {
  const p = !env.served && location.hash.startsWith('#/') ? location.hash.slice(1) : env.served ? '' : '/';
  return new URL(p || `${location.pathname}${location.search}`, 'http://console.invalid');
}

function navigate(path: string): void {
  if (env.served) history.pushState(null, '', path);
  else location.hash = path;
  void render();
}

async function render(): Promise<void> {
  stop?.();
  stop = undefined;
  const url = current();
  const logUrl = env.logUrl;
  if (url.pathname === '/settings' || logUrl === undefined) return showSettings();
  const api = new HttpSource(logUrl);
  if (url.pathname === '/search') return showSearch({ api, root: main, href });
  const trust = establishTrust(env, logUrl, await fetchStats(api), () => void render());
  if ('show' in trust) return replace(main, trust.show);
  const deps = { client: trust.client, logUrl, root: main };
  const m = /^\/(decisions|entries)\/([^/]+)$/.exec(url.pathname);
  if (m?.[1] === 'entries' && /^\d+$/.test(m[2]!)) return showDecision(deps, { index: Number(m[2]) });
  if (m?.[1] === 'decisions') {
    const source = url.searchParams.get('source');
    return showDecision(deps, { id: decodeURIComponent(m[2]!), ...(source !== null ? { source } : {}) });
  }
  stop = showOverview(deps);
}

function field(id: string, label: string, input: HTMLElement, help?: string): HTMLElement {
  return h(
    'div',
    null,
    h('label', { for: id }, label),
    input,
    help ? h('p', { class: 'muted' }, help) : null,
  );
}

function showSettings(): void {
  const logUrl = env.logUrl;
  const url = h('input', {
    id: 's-log',
    type: 'url',
    value: logUrl ?? '',
    required: true,
    readonly: env.served,
  });
  const key = h('input', { id: 's-vkey', type: 'text', value: logUrl ? (pinnedKey(logUrl) ?? '') : '' });
  const policy = h('textarea', { id: 's-policy', rows: 5 }, logUrl ? (pinnedPolicy(logUrl) ?? '') : '');
  const status = h('p', { role: 'status' });
  const save = (ev: Event) => {
    ev.preventDefault();
    const u = normalizeLogUrl(url.value);
    if (u === undefined) return replace(status, 'The log URL must be http(s).');
    const p = policy.value.trim();
    try {
      if (p !== '') parsePolicy(p);
    } catch (err) {
      return replace(status, `The policy does not parse: ${(err as Error).message}`);
    }
    saveLogUrl(u);
    pinKey(u, key.value.trim() || undefined);
    pinPolicy(u, p || undefined);
    env = { ...env, logUrl: u };
    navigate('/');
  };
  replace(
    main,
    h('h1', null, 'Settings'),
    h(
      'form',
      { class: 'settings', onsubmit: save, 'aria-label': 'Settings' },
      field('s-log', 'Log URL', url, env.served ? 'This console is served by the log itself.' : undefined),
      field(
        's-vkey',
        'Pinned verifier key',
        key,
        logUrl && pinnedKey(logUrl) ? fingerprint(pinnedKey(logUrl)!) : 'Empty: pin on first use.',
      ),
      field('s-policy', 'Witness policy (C2SP tlog-policy, optional)', policy),
      h('button', { type: 'submit', id: 'save-settings' }, 'Save'),
      status,
    ),
  );
}

function focusMain(ev: Event): void {
  ev.preventDefault();
  main.focus();
}

function shell(): void {
  const link = (path: string, text: string) => h('a', { href: href(path), 'data-nav': true }, text);
  document.body.replaceChildren(
    h('a', { class: 'skip', href: '#main', onclick: focusMain }, 'Skip to content'),
    h(
      'header',
      null,
      h('span', { class: 'brand' }, 'opa-tlog'),
      h(
        'nav',
        { 'aria-label': 'Main' },
        link('/', 'Overview'),
        link('/search', 'Search'),
        link('/settings', 'Settings'),
      ),
    ),
    main,
    h('footer', null, 'Every check on these pages runs in your browser, against the key you pinned.'),
  );
  document.body.addEventListener('click', (ev) => {
    const a = (ev.target as Element).closest?.('a[data-nav]');
    if (!env.served || !(a instanceof HTMLAnchorElement) || ev.ctrlKey || ev.metaKey || ev.shiftKey) return;
    ev.preventDefault();
    navigate(a.getAttribute('href')!);
  });
  addEventListener('popstate', () => void render());
  addEventListener('hashchange', () => void render());
}

shell();
void render();
