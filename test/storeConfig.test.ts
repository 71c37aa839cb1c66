import assert from "node:assert/strict";
import { loadConfig } from "../server/config";
import { TEST_SECRET } from "./helpers/server";
import { describeStore, parseDatabaseUrl } from "../server/store";

describe("store selection (DATABASE_URL)", () => {
  it("reads every URL form", () => {
    assert.deepEqual(parseDatabaseUrl("memory:"), { kind: "memory", location: "" });
    assert.deepEqual(parseDatabaseUrl("sqlite:./data/x.sqlite"), { kind: "sqlite", location: "./data/x.sqlite" });
    assert.deepEqual(parseDatabaseUrl("sqlite:///var/lib/cc.sqlite"), { kind: "sqlite", location: "/var/lib/cc.sqlite" });
    assert.deepEqual(parseDatabaseUrl("sqlite::memory:"), { kind: "sqlite", location: ":memory:" });
    assert.equal(parseDatabaseUrl("postgres://u:p@h:5432/db").kind, "postgres");
    assert.equal(parseDatabaseUrl("postgresql://h/db?sslmode=require").kind, "postgres");
    assert.equal(parseDatabaseUrl("redis://127.0.0.1:6379/3").kind, "redis");
    assert.throws(() => parseDatabaseUrl("mysql://h/db"), /DATABASE_URL must start with/);
    assert.throws(() => parseDatabaseUrl("sqlite:"), /names no SQLite file/);
  });

  it("defaults: DATABASE_URL, else REDIS_URL, else memory in tests, else the SQLite file of npm start", () => {
    assert.equal(loadConfig({ AUTH_SECRET: TEST_SECRET, DATABASE_URL: "postgres://h/db", REDIS_URL: "redis://r" }).databaseUrl, "postgres://h/db");
    assert.equal(loadConfig({ AUTH_SECRET: TEST_SECRET, REDIS_URL: "redis://r:6379" }).databaseUrl, "redis://r:6379");
    assert.equal(loadConfig({ AUTH_SECRET: TEST_SECRET, NODE_ENV: "test" }).databaseUrl, "memory:");
    assert.equal(loadConfig({ AUTH_SECRET: TEST_SECRET }).databaseUrl, "sqlite:./data/contact-center.sqlite");
    assert.equal(loadConfig({ AUTH_SECRET: TEST_SECRET }).databasePoolSize, 10);
    assert.equal(loadConfig({ AUTH_SECRET: TEST_SECRET }).sqliteSynchronous, "full");
    assert.equal(loadConfig({ AUTH_SECRET: TEST_SECRET, SQLITE_SYNCHRONOUS: "normal" }).sqliteSynchronous, "normal");
    assert.throws(() => loadConfig({ AUTH_SECRET: TEST_SECRET, SQLITE_SYNCHRONOUS: "off" }), /SQLITE_SYNCHRONOUS/);
    assert.throws(() => loadConfig({ AUTH_SECRET: TEST_SECRET, DATABASE_POOL_SIZE: "0" }), /DATABASE_POOL_SIZE/);
  });

  it("logs the store without its password", () => {
    assert.equal(describeStore("postgres://cc:secret@db.internal:5432/cc").location, "postgres://cc@db.internal:5432/cc");
  });
});
