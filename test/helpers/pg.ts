import pg from "pg";

/** The PostgreSQL server the tests use (trust auth); each test makes its own databases on it. */
export const PG_BASE = process.env.PG_TEST_URL ?? "postgres://postgres@127.0.0.1:5432/cc_store_test";

export const pgUrlOf = (db: string, base = PG_BASE) => { const u = new URL(base); u.pathname = `/${db}`; return u.toString(); };

export interface FreshDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

/** A new, empty database `<prefix>_<pid>_<n>` (dropped first if a crashed run left it). */
let n = 0;
export async function freshDatabase(prefix: string, base = PG_BASE): Promise<FreshDatabase> {
  const name = `${prefix}_${process.pid}_${++n}`.toLowerCase();
  const admin = new pg.Pool({ connectionString: pgUrlOf("postgres", base), max: 1 });
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${name}`);
  } finally { await admin.end(); }
  return {
    name,
    url: pgUrlOf(name, base),
    async drop() {
      const pool = new pg.Pool({ connectionString: pgUrlOf("postgres", base), max: 1 });
      try { await pool.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`); } catch { /* a later run drops it */ } finally { await pool.end(); }
    },
  };
}
