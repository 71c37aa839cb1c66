import pg from "pg";
import { POSTGRES_MIGRATIONS } from "./sqlMigrations";

/** Any constant shared by every node: the key of the advisory lock that serialises migrations. */
const MIGRATION_LOCK = 7_313_001;

/**
 * The store's pool. Bounded waits: a database that hangs (frozen, cut off) fails
 * requests with `unavailable` within `queryTimeoutMs` instead of holding them; the
 * default (DATABASE_QUERY_TIMEOUT_MS, 8 s) answers before the client library's 10 s
 * request timeout, so a client sees the documented code, not its own timeout.
 */
export function openPool(url: string, size: number, queryTimeoutMs = 8_000): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max: size, keepAlive: true, connectionTimeoutMillis: 5_000, query_timeout: queryTimeoutMs });
  // an idle client's error (server restart) must not crash the process; the next query reconnects
  pool.on("error", () => {});
  return pool;
}

/** Applies missing migrations under a session advisory lock: nodes booting at once take turns. */
export async function migrate(pool: pg.Pool): Promise<number[]> {
  const client = await pool.connect();
  try {
    await client.query("SELECT pg_advisory_lock($1)", [MIGRATION_LOCK]);
    try {
      await client.query("CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())");
      const applied = new Set((await client.query("SELECT version FROM schema_migrations")).rows.map((r) => Number(r.version)));
      for (const m of POSTGRES_MIGRATIONS) {
        if (applied.has(m.version)) { continue; }
        await client.query("BEGIN");
        try {
          await client.query(m.sql);
          await client.query("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", [m.version, m.name]);
          await client.query("COMMIT");
        } catch (err) {
          await client.query("ROLLBACK").catch(() => {});
          throw err;
        }
      }
      return (await client.query("SELECT version FROM schema_migrations ORDER BY version")).rows.map((r) => Number(r.version));
    } finally {
      await client.query("SELECT pg_advisory_unlock($1)", [MIGRATION_LOCK]).catch(() => {});
    }
  } finally {
    client.release();
  }
}

