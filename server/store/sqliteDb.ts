import { mkdirSync } from "node:fs";
import path from "node:path";
import { DatabaseSync, type StatementSync } from "node:sqlite";
import { SQLITE_MIGRATIONS } from "./sqlMigrations";

export type SqliteSynchronous = "full" | "normal";

/**
 * One SQLite file opened for the store: WAL, the chosen `synchronous`, migrations
 * applied, prepared statements cached. What `synchronous` means for an acknowledged
 * message: docs/storage.md.
 */
export class SqliteDb {
  readonly db: DatabaseSync;
  private readonly stmts = new Map<string, StatementSync>();

  constructor(file: string, synchronous: SqliteSynchronous) {
    if (file !== ":memory:") { mkdirSync(path.dirname(path.resolve(file)), { recursive: true }); }
    this.db = new DatabaseSync(file);
    // another process holding the write lock makes us wait, not fail
    this.db.exec("PRAGMA busy_timeout = 5000");
    this.db.exec("PRAGMA journal_mode = WAL");
    this.db.exec(`PRAGMA synchronous = ${synchronous === "normal" ? "NORMAL" : "FULL"}`);
    this.migrate();
  }

  /** Applies the migrations this file lacks, under the write lock (two processes may start at once). */
  private migrate() {
    this.transaction(() => {
      this.db.exec("CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at integer NOT NULL)");
      const applied = new Set(this.versions());
      for (const m of SQLITE_MIGRATIONS) {
        if (applied.has(m.version)) { continue; }
        this.db.exec(m.sql);
        this.db.prepare("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)").run(m.version, m.name, Date.now());
      }
    });
  }

  /** Versions recorded in schema_migrations. */
  versions(): number[] {
    return (this.db.prepare("SELECT version FROM schema_migrations ORDER BY version").all() as { version: number }[]).map((r) => r.version);
  }

  stmt(sql: string): StatementSync {
    let s = this.stmts.get(sql);
    if (!s) { this.stmts.set(sql, s = this.db.prepare(sql)); }
    return s;
  }

  exec(sql: string) { this.db.exec(sql); }

  /** BEGIN IMMEDIATE: takes the write lock at once, so a transaction never fails half-way on a lock upgrade. */
  transaction<T>(fn: () => T): T {
    this.db.exec("BEGIN IMMEDIATE");
    try {
      const result = fn();
      this.db.exec("COMMIT");
      return result;
    } catch (err) {
      if (this.db.isTransaction) { this.db.exec("ROLLBACK"); }
      throw err;
    }
  }

  close() { if (this.db.isOpen) { this.db.close(); } }
}
