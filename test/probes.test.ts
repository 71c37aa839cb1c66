import assert from "node:assert/strict";
import { readiness } from "../server/http/health";
import { DependencyProbes } from "../server/http/probes";
import { MemoryStore } from "../server/store/memory";

/** A real in-memory store whose ping answers only when the test says so (a frozen database). */
class FreezableStore extends MemoryStore {
  pings = 0;
  private release: Array<() => void> = [];
  frozen = false;
  override ping(): Promise<void> {
    this.pings++;
    if (!this.frozen) { return Promise.resolve(); }
    return new Promise((resolve) => this.release.push(resolve));
  }
  thaw() { this.frozen = false; for (const r of this.release.splice(0)) { r(); } }
}

describe("health probes (server/http/probes.ts)", () => {
  const options = { timeoutMs: 200, cacheMs: 100, intervalMs: 60_000 };

  it("a frozen store: the report comes within the timeout and says the store is down", async () => {
    const store = new FreezableStore();
    const probes = new DependencyProbes(undefined, store, options);
    assert.equal((await probes.report()).store.ok, true);
    assert.equal(probes.down(), null);
    store.frozen = true;
    const t0 = Date.now();
    const report = await probes.report(true);
    assert.ok(Date.now() - t0 < 500, `answered in ${Date.now() - t0} ms`);
    assert.deepEqual(report.store, { ok: false, error: "no answer within 200 ms" });
    assert.equal(report.status, "unavailable");
    assert.equal(probes.down(), "store");
    store.thaw();
  });

  it("no pile-up: concurrent callers share one round, and an unanswered ping is not sent again", async () => {
    const store = new FreezableStore();
    const probes = new DependencyProbes(undefined, store, options);
    store.frozen = true;
    await Promise.all(Array.from({ length: 20 }, () => probes.report(true)));
    assert.equal(store.pings, 1, "twenty callers, one ping");
    for (let i = 0; i < 3; i++) {
      const report = await probes.report(true);
      assert.equal(report.store.ok, false);
      assert.match((report.store as { error: string }).error, /^no answer for \d+ ms$/);
    }
    assert.equal(store.pings, 1, "the frozen ping is waited for, not repeated");
    store.thaw();
    await new Promise((r) => setImmediate(r));
    assert.equal((await probes.report(true)).store.ok, true);
    assert.equal(store.pings, 2);
    assert.equal(probes.down(), null);
  });

  it("a report is reused for cacheMs", async () => {
    const store = new FreezableStore();
    const probes = new DependencyProbes(undefined, store, options);
    await probes.report();
    await probes.report();
    assert.equal(store.pings, 1);
    await new Promise((r) => setTimeout(r, 150));
    await probes.report();
    assert.equal(store.pings, 2);
  });

  it("readiness: ready only with every dependency answering, not draining, and the process lease held", () => {
    assert.deepEqual(readiness({ status: "ok" }, false, true), { ready: true, draining: false, lease: "held" });
    assert.equal(readiness({ status: "unavailable" }, false, true).ready, false);
    assert.equal(readiness({ status: "ok" }, true, true).ready, false);
    assert.deepEqual(readiness({ status: "ok" }, false, false), { ready: false, draining: false, lease: "lapsed" });
  });
});
