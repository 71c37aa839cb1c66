import pg from "pg";

/** The machine's PostgreSQL (trust auth); tests make and drop their own databases on it. */
export const PG_BASE = process.env.PG_TEST_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

export function pgUrl(db: string) {
  const url = new URL(PG_BASE);
  url.pathname = `/${db}`;
  return url.toString();
}

/**
 * An empty database for one test run: dropped first if a crashed run left it. `drop()`
 * retries without FORCE, because a killed node's connections may take a moment to go.
 */
export async function freshDatabase(db: string): Promise<{ url: string; drop(): Promise<void> }> {
  const admin = new pg.Pool({ connectionString: pgUrl("postgres"), max: 1 });
  await admin.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
  await admin.query(`CREATE DATABASE ${db}`);
  return {
    url: pgUrl(db),
    async drop() {
      for (let i = 0; i < 50; i++) {
        try { await admin.query(`DROP DATABASE IF EXISTS ${db}`); break; } catch { await new Promise((r) => setTimeout(r, 100)); }
      }
      await admin.end();
    },
  };
}
