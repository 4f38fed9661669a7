/**
 * Debian's nginx serving a directory (the static mirror) on a free loopback port: a real
 * foreground process (`-p PREFIX -c CONF -g 'daemon off;'`) with its config, pid, logs and
 * temp paths in a fresh temp dir. Without nginx the tests that need it are skipped with a
 * warning, unless OPA_TLOG_REQUIRE_NGINX=1 (CI sets it; `.ci/run` installs nginx).
 */
import { existsSync } from 'node:fs';
import { NGINX } from './services.js';

export { NGINX, type RunningNginx, startNginx } from './services.js';

/** True when nginx is installed; warns once when it is not (the caller skips). */
export function nginxAvailable(what: string): boolean {
  if (existsSync(NGINX)) return true;
  console.warn(
    `${what}: skipped, ${NGINX} is missing (apt-get install nginx; OPA_TLOG_REQUIRE_NGINX=1 makes this fatal)`,
  );
  return false;
}

/** True when the tests must not skip for want of nginx. */
export const NGINX_REQUIRED = process.env.OPA_TLOG_REQUIRE_NGINX === '1';
