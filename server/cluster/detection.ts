/*
 * How long the cluster takes to give up on a silent process, and the lease that
 * must run out before (docs/cluster.md, Fencing).
 *
 * Colyseus 0.18's matchmaker declares a process dead after two waits of
 * COLYSEUS_PRESENCE_SHORT_TIMEOUT: the IPC call to it times out, then so does a
 * health check; then its listings go and its rooms start elsewhere. That is
 * DEAD_PROCESS_MS. Colyseus reads the variable once, when @colyseus/core loads, so
 * server/index.ts imports this module first: DEAD_PROCESS_MS, when set, becomes the
 * short timeout (half of it).
 */

const positive = (env: NodeJS.ProcessEnv, name: string): number | undefined => {
  const raw = env[name];
  if (raw === undefined || raw === "") { return undefined; }
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) { throw new Error(`${name} must be an integer >= 1, got "${raw}"`); }
  return value;
};

export function applyDeadProcessMs(env: NodeJS.ProcessEnv = process.env) {
  const dead = positive(env, "DEAD_PROCESS_MS");
  if (dead !== undefined && !env.COLYSEUS_PRESENCE_SHORT_TIMEOUT) { env.COLYSEUS_PRESENCE_SHORT_TIMEOUT = String(Math.ceil(dead / 2)); }
}

/**
 * DEAD_PROCESS_MS (default 2 x COLYSEUS_PRESENCE_SHORT_TIMEOUT = 4 000 ms) and
 * LEASE_MS (default 60 % of it), which must be shorter: a process stops its actors
 * when it could not renew its lease for LEASE_MS, before anybody may move them.
 */
export function failureTimes(env: NodeJS.ProcessEnv = process.env): { deadProcessMs: number; leaseMs: number } {
  const shortTimeout = positive(env, "COLYSEUS_PRESENCE_SHORT_TIMEOUT") ?? 2_000;
  const deadProcessMs = 2 * shortTimeout;
  const given = positive(env, "DEAD_PROCESS_MS");
  if (given !== undefined && Math.abs(given - deadProcessMs) > 1) {
    throw new Error(`DEAD_PROCESS_MS (${given}) must be twice COLYSEUS_PRESENCE_SHORT_TIMEOUT (${shortTimeout}): set only one of them`);
  }
  const leaseMs = positive(env, "LEASE_MS") ?? Math.floor(deadProcessMs * 0.6);
  if (leaseMs >= deadProcessMs) {
    throw new Error(`LEASE_MS (${leaseMs}) must be shorter than DEAD_PROCESS_MS (${deadProcessMs}): a process must stop its actors before the cluster moves them`);
  }
  if (leaseMs < 200) { throw new Error(`LEASE_MS must be at least 200, got ${leaseMs}`); }
  return { deadProcessMs, leaseMs };
}

applyDeadProcessMs();
