import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { DatabaseSync, backup } from "node:sqlite";
import { promisify } from "node:util";
import { freshDatabase, type FreshDatabase } from "./helpers/pg";
import { clientFor, startServerProcess, uniqueId, type ServerProcess } from "./helpers/server";

const run = promisify(execFile);
/** the test writes 21 messages at once: over a customer's send burst (20) */
const FAST = { MESSAGES_PER_SECOND: "100", MESSAGES_BURST: "100" };

/*
 * Backups restored once, as docs/storage.md "Backups" tells operators to take them:
 * while the node serves, then the node is killed and a new one starts on the copy
 * and finds every acknowledged message.
 */

async function chat(node: ServerProcess, customerId: string, count: number) {
  const room = await (await clientFor(node.url, { sub: customerId, role: "customer" })).joinOrCreate("contact_center", {});
  const acked: [string, number][] = [];
  for (let i = 0; i < count; i++) { acked.push([`b${i}`, (await room.request("send", { id: `b${i}`, text: `before the backup ${i}` })).seq]); }
  return { room, acked };
}

async function history(node: ServerProcess, customerId: string) {
  const room = await (await clientFor(node.url, { sub: customerId, role: "customer" })).joinOrCreate("contact_center", {});
  const page = await room.request("history", { after: 0, limit: 100 });
  await room.leave();
  return page.messages.map((m: any) => [m.id, m.seq]);
}

describe("backup and restore", function () {
  this.timeout(90_000);
  let dir: string;
  const nodes: ServerProcess[] = [];
  const databases: FreshDatabase[] = [];
  before(() => { dir = mkdtempSync(path.join(tmpdir(), "cc-restore-")); });
  after(async () => {
    await Promise.all(nodes.map((n) => n.kill()));
    await Promise.all(databases.map((d) => d.drop()));
    rmSync(dir, { recursive: true, force: true });
  });

  it("SQLite: node:sqlite's online backup of a serving node restores every acknowledged message", async () => {
    const file = path.join(dir, "live.sqlite");
    const copy = path.join(dir, "backup.sqlite");
    const node = await startServerProcess({ ...FAST, DATABASE_URL: `sqlite:${file}` });
    nodes.push(node);
    const customerId = uniqueId("c");
    const { room, acked } = await chat(node, customerId, 20);
    // the operator's backup, from another process while the node keeps serving
    const source = new DatabaseSync(file, { readOnly: true });
    try { await backup(source, copy); } finally { source.close(); }
    // written after the backup: not in it
    await room.request("send", { id: "after", text: "after the backup" });
    await node.kill();

    const restored = await startServerProcess({ ...FAST, DATABASE_URL: `sqlite:${copy}` });
    nodes.push(restored);
    assert.deepEqual(await history(restored, customerId), acked);
    await restored.stop();
  });

  it("PostgreSQL: pg_dump of a serving node, pg_restore into a fresh database, restores every acknowledged message", async () => {
    const live = await freshDatabase("cc_restore_live");
    const target = await freshDatabase("cc_restore_target");
    databases.push(live, target);
    const node = await startServerProcess({ ...FAST, DATABASE_URL: live.url });
    nodes.push(node);
    const customerId = uniqueId("c");
    const { acked } = await chat(node, customerId, 20);
    const dump = path.join(dir, "cc.dump");
    await run("pg_dump", ["-Fc", "-f", dump, live.url]);
    await node.kill();
    await run("pg_restore", ["--no-owner", "-d", target.url, dump]);

    const restored = await startServerProcess({ ...FAST, DATABASE_URL: target.url });
    nodes.push(restored);
    assert.deepEqual(await history(restored, customerId), acked);
    // the restored database keeps serving: the search index and the append function came along
    const room = await (await clientFor(restored.url, { sub: customerId, role: "customer" })).joinOrCreate("contact_center", {});
    assert.equal((await room.request("send", { id: "after", text: "after the restore" })).seq, acked.length + 1);
    await room.leave();
    await restored.stop();
  });
});
