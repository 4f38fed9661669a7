/**
 * Throwaway services for the scale-out benchmarks: the tests' own launchers
 * (test/helpers/services.ts, which has no vitest hooks), so the bench starts PostgreSQL and nginx
 * exactly as the tests do; each is stopped by stop() and, as a last resort, when the process exits.
 */
import { startPgCluster as startCluster } from '../test/helpers/services.js';

export {
  freePort,
  NGINX,
  type PgCluster,
  pgBin,
  type RunningNginx,
  startNginx,
} from '../test/helpers/services.js';

/** Starts a throwaway cluster for the bench (databases named bench<pid>_<n>). */
export const startPgCluster = () => startCluster('bench');

/**
 * Why a part cannot run here (its program is not installed), or undefined. Throws instead when
 * `requireEnv` is set to 1 (CI or a lead's run that must not skip silently).
 */
export function missing(what: string, present: boolean, requireEnv: string): string | undefined {
  if (present) return undefined;
  const msg = `${what} is not installed (Debian package ${what === 'nginx' ? 'nginx' : 'postgresql'}): skipping this part`;
  if (process.env[requireEnv] === '1') throw new Error(`${msg}, but ${requireEnv}=1`);
  return msg;
}
