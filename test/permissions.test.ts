import assert from "node:assert/strict";
import type { Room } from "@colyseus/sdk";
import { clientFor, startServerProcess, uniqueId, type ServerProcess, type Who } from "./helpers/server";

/** One test per row of the permission table in docs/security.md: allowed and refused. */
describe("permission table (docs/security.md), row by row", function () {
  this.timeout(30_000);
  let server: ServerProcess;
  let customerId: string;
  let customerRoom: Room<any>;
  const open: Room<any>[] = [];
  const as = (role: Who["role"], extra: Partial<Who> = {}): Who => ({ sub: uniqueId(role), role, teams: ["sales"], ...extra });
  const join = async (who: Who, name: string, options: any) => {
    const room = await (await clientFor(server.url, who)).joinOrCreate(name, options);
    open.push(room);
    return room;
  };
  const refused = async (who: Who, name: string, options: any, reason: RegExp) => {
    await assert.rejects(join(who, name, options), reason);
  };
  const code = async (p: Promise<unknown>) => p.then(() => "ok", (e: any) => e.reason?.code ?? e.message);

  before(async () => {
    server = await startServerProcess({});
    customerId = uniqueId("cust");
    customerRoom = await join({ sub: customerId, role: "customer" }, "contact_center", { channel: { type: "web" } });
    await customerRoom.request("send", { id: "hello", text: "hello" });
  });
  after(async () => {
    await Promise.all(open.map((r) => r.connection.isOpen ? r.leave().catch(() => {}) : undefined));
    await server?.stop();
  });

  it("join contact_center: a customer its own room only; staff and bots existing rooms; apps never", async () => {
    const other = await join({ sub: uniqueId("c2"), role: "customer" }, "contact_center", { customerId });
    assert.notEqual(other.roomId, `cc-${customerId}`, "a customer cannot pick another customer's room");
    for (const role of ["agent", "supervisor", "bot"] as const) {
      assert.equal((await join(as(role), "contact_center", { customerId })).roomId, `cc-${customerId}`, role);
      await refused(as(role), "contact_center", { customerId: uniqueId("ghost") }, /room_not_found/);
    }
    await refused(as("app"), "contact_center", { customerId }, /forbidden: apps use the HTTP API/);
  });

  it("with AGENT_TEAM_SCOPED, agents and supervisors join only their teams' customer rooms", async () => {
    const scoped = await startServerProcess({ AGENT_TEAM_SCOPED: "true", DEFAULT_TEAM: "support" });
    try {
      const c1 = uniqueId("c");
      const c2 = uniqueId("c");
      const mine = await (await clientFor(scoped.url, { sub: c1, role: "customer" })).joinOrCreate("contact_center", { teamId: "sales" });
      const other = await (await clientFor(scoped.url, { sub: c2, role: "customer" })).joinOrCreate("contact_center", {});
      for (const role of ["agent", "supervisor"] as const) {
        const who = { sub: uniqueId(role), role, teams: ["sales"] };
        const ok = await (await clientFor(scoped.url, who)).joinOrCreate("contact_center", { customerId: c1 });
        assert.equal(ok.roomId, `cc-${c1}`);
        await ok.leave();
        await assert.rejects((await clientFor(scoped.url, who)).joinOrCreate("contact_center", { customerId: c2 }), /forbidden: this customer's room belongs to team support/);
      }
      await mine.leave();
      await other.leave();
    } finally {
      await scoped.stop();
    }
  });

  it("create private: customers among its customers, agents, supervisors and apps; not bots", async () => {
    const c = as("customer");
    assert.match((await join(c, "private", { customers: [c.sub] })).roomId, /^pr-/);
    await refused(c, "private", { customers: ["someone-else"] }, /forbidden/);
    for (const role of ["agent", "supervisor", "app"] as const) {
      assert.match((await join(as(role), "private", { customers: [c.sub], subject: "refund" })).roomId, /^pr-/, role);
    }
    await refused(as("bot"), "private", { customers: [c.sub] }, /forbidden: bots do not create/);
  });

  it("join private by id: member customers, agents, supervisors, bots; not other customers, not apps", async () => {
    const member = as("customer");
    const created = await join(as("agent"), "private", { customers: [member.sub] });
    const roomId = created.roomId;
    assert.equal((await join(member, "private", { roomId })).roomId, roomId);
    for (const role of ["agent", "supervisor", "bot"] as const) {
      assert.equal((await join(as(role), "private", { roomId })).roomId, roomId, role);
    }
    await refused(as("customer"), "private", { roomId }, /forbidden: not a member/);
    await refused(as("app"), "private", { roomId }, /forbidden/);
  });

  it("join team: agents, supervisors and bots of the team only; never customers or apps", async () => {
    for (const role of ["agent", "supervisor", "bot"] as const) {
      assert.equal((await join(as(role), "team", { teamId: "sales" })).roomId, "team-sales", role);
      await refused(as(role), "team", { teamId: "billing" }, /forbidden: not a member of team billing/);
    }
    await refused(as("customer", { teams: ["sales"] }), "team", { teamId: "sales" }, /forbidden/);
    await refused(as("app", { teams: ["sales"] }), "team", { teamId: "sales" }, /forbidden/);
  });

  it("send text: every role in the room", async () => {
    assert.equal(await code(customerRoom.request("send", { id: uniqueId("t"), text: "from the customer" })), "ok");
    for (const role of ["agent", "supervisor", "bot"] as const) {
      const room = await join(as(role), "contact_center", { customerId });
      assert.equal(await code(room.request("send", { id: uniqueId("t"), text: `from the ${role}` })), "ok", role);
    }
  });

  it("send note and see notes: agents and supervisors; not customers, not bots", async () => {
    const agent = await join(as("agent"), "contact_center", { customerId });
    const supervisor = await join(as("supervisor"), "contact_center", { customerId });
    const bot = await join(as("bot"), "contact_center", { customerId });
    assert.equal(await code(agent.request("send", { id: uniqueId("n"), text: "note a", kind: "note" })), "ok");
    assert.equal(await code(supervisor.request("send", { id: uniqueId("n"), text: "note s", kind: "note" })), "ok");
    assert.equal(await code(customerRoom.request("send", { id: uniqueId("n"), text: "x", kind: "note" })), "forbidden");
    assert.equal(await code(bot.request("send", { id: uniqueId("n"), text: "x", kind: "note" })), "forbidden");
    const kinds = async (room: Room<any>) => (await room.request("history", { limit: 200 })).messages.map((m: any) => m.kind);
    assert.ok((await kinds(agent)).includes("note"));
    assert.ok((await kinds(supervisor)).includes("note"));
    assert.ok(!(await kinds(customerRoom)).includes("note"), "customer history has no notes");
    assert.ok(!(await kinds(bot)).includes("note"), "bot history has no notes");
  });

  it("end: agents and supervisors; not customers, not bots", async () => {
    const bot = await join(as("bot"), "contact_center", { customerId });
    assert.equal(await code(customerRoom.request("end", {})), "forbidden");
    assert.equal(await code(bot.request("end", {})), "forbidden");
    const agent = await join(as("agent"), "contact_center", { customerId });
    assert.equal(await code(agent.request("end", {})), "ok");
    await customerRoom.request("send", { id: uniqueId("t"), text: "again" });
    const supervisor = await join(as("supervisor"), "contact_center", { customerId });
    assert.equal(await code(supervisor.request("end", {})), "ok");
  });

  it("monitor, transfer, invite, handover, barge: by the roles the table names only", async () => {
    await customerRoom.request("send", { id: uniqueId("t"), text: "one more question" });
    await refused(as("agent"), "contact_center", { customerId, mode: "monitor" }, /forbidden: only supervisors monitor/);
    const monitor = await join(as("supervisor"), "contact_center", { customerId, mode: "monitor" });
    const bot = await join(as("bot"), "contact_center", { customerId });
    assert.equal(await code(customerRoom.request("transfer", { toTeamId: "sales" })), "forbidden");
    assert.equal(await code(bot.request("transfer", { toTeamId: "sales" })), "forbidden");
    assert.equal(await code(customerRoom.request("invite", { userId: "x" })), "forbidden");
    assert.equal(await code(customerRoom.request("handover", {})), "forbidden");
    assert.equal(await code(bot.request("barge", {})), "forbidden");
    assert.equal(await code(monitor.request("barge", {})), "ok");
  });

  it("history and conversations: anyone in the room; customers without notes (above)", async () => {
    assert.equal(await code(customerRoom.request("conversations", {})), "ok");
    const { conversations } = await customerRoom.request("conversations", {});
    assert.ok(conversations.length >= 2);
    const page = await customerRoom.request("history", { conversationId: conversations[0].id });
    assert.ok(page.messages.every((m: any) => m.kind !== "note"));
  });
});
