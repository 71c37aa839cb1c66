import assert from "node:assert/strict";
import type { Room } from "@colyseus/sdk";
import { signToken } from "../server/auth";
import { clientFor, startServerProcess, TEST_SECRET, uniqueId, until, waitFor, type ServerProcess, type Who } from "./helpers/server";

/**
 * One test per row of the permission table in docs/security.md: for each row, the
 * roles the table allows succeed and the roles it refuses get the documented refusal,
 * with real SDK clients (and HTTP for the API row) against a server process.
 */
describe("permission table (docs/security.md), row by row", function () {
  this.timeout(40_000);
  let server: ServerProcess;
  const open: Room<any>[] = [];
  const BOT_TEAM = "permbots";
  const as = (role: Who["role"], extra: Partial<Who> = {}): Who => ({ sub: uniqueId(role), role, teams: ["sales"], ...extra });
  const join = async (who: Who, name: string, options: any) => {
    const room = await (await clientFor(server.url, who)).joinOrCreate(name, options);
    open.push(room);
    return room;
  };
  const refused = async (who: Who, name: string, options: any, reason: RegExp) => {
    await assert.rejects(join(who, name, options), reason);
  };
  /** "ok", or the rejection's code */
  const code = async (p: Promise<unknown>) => p.then(() => "ok", (e: any) => e.reason?.code ?? e.message);
  const requests = (desk: Room<any>) => [...desk.state.requests.values()] as any[];

  /** A customer in its own room with an active conversation. */
  async function customerWithConversation(teamId?: string) {
    const customerId = uniqueId("cust");
    const customer = await join({ sub: customerId, role: "customer" }, "contact_center", { channel: { type: "web" }, ...(teamId ? { teamId } : {}) });
    await customer.request("send", { id: uniqueId("m"), text: "hello" });
    return { customerId, customer };
  }

  before(async () => { server = await startServerProcess({ AGENT_MAX_CONVERSATIONS: "1", BOT_TEAMS: BOT_TEAM }); });
  afterEach(async () => { await Promise.all(open.splice(0).map((r) => r.connection.isOpen ? r.leave().catch(() => {}) : undefined)); });
  after(async () => { await server?.stop(); });

  it("join contact_center: a customer its own room only; staff and bots existing rooms; apps never", async () => {
    const { customerId } = await customerWithConversation();
    const other = await join({ sub: uniqueId("c2"), role: "customer" }, "contact_center", { customerId });
    assert.notEqual(other.roomId, `cc-${customerId}`, "a customer cannot pick another customer's room");
    for (const role of ["agent", "supervisor", "bot"] as const) {
      assert.equal((await join(as(role), "contact_center", { customerId })).roomId, `cc-${customerId}`, role);
      await refused(as(role), "contact_center", { customerId: uniqueId("ghost") }, /room_not_found/);
    }
    await refused(as("app"), "contact_center", { customerId }, /forbidden: apps use the HTTP API/);
  });

  it("join contact_center with AGENT_TEAM_SCOPED: agents, supervisors and bots only their teams' customer rooms", async () => {
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
      // bots too (issue #11; before, they joined any customer room)
      await assert.rejects((await clientFor(scoped.url, { sub: uniqueId("bot"), role: "bot", teams: ["sales"] })).joinOrCreate("contact_center", { customerId: c2 }), /forbidden: this customer's room belongs to team support/);
      const bot = await (await clientFor(scoped.url, { sub: uniqueId("bot"), role: "bot", teams: ["support"] })).joinOrCreate("contact_center", { customerId: c2 });
      assert.equal(bot.roomId, `cc-${c2}`);
      await bot.leave();
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
    // joinById, while its actor runs: the same rule, checked by the room
    const byId = await (await clientFor(server.url, member)).joinById(roomId);
    open.push(byId);
    assert.equal(byId.roomId, roomId);
    await assert.rejects((await clientFor(server.url, as("customer"))).joinById(roomId), /forbidden: not a member/);
    // (an app's joinById reads as a create without customers: refused before the room is reached)
    await assert.rejects((await clientFor(server.url, as("app"))).joinById(roomId), /forbidden|invalid_options: customers/);
  });

  it("join team: agents, supervisors and bots of the team only; never customers or apps", async () => {
    for (const role of ["agent", "supervisor", "bot"] as const) {
      assert.equal((await join(as(role), "team", { teamId: "sales" })).roomId, "team-sales", role);
      await refused(as(role), "team", { teamId: "billing" }, /forbidden: not a member of team billing/);
    }
    await refused(as("customer", { teams: ["sales"] }), "team", { teamId: "sales" }, /forbidden/);
    await refused(as("app", { teams: ["sales"] }), "team", { teamId: "sales" }, /forbidden/);
  });

  it("monitor a customer room: supervisors only, silently, writing notes but not text", async () => {
    const { customerId, customer } = await customerWithConversation();
    for (const role of ["agent", "bot", "customer"] as const) {
      await refused(as(role), "contact_center", { customerId, mode: "monitor" }, /forbidden: only supervisors monitor/);
    }
    await refused(as("supervisor"), "team", { teamId: "sales", mode: "monitor" }, /forbidden/);
    const supervisor = as("supervisor");
    const monitor = await join(supervisor, "contact_center", { customerId, mode: "monitor" });
    assert.equal(monitor.roomId, `cc-${customerId}`);
    assert.equal(await code(monitor.request("send", { id: uniqueId("w"), text: "whisper", kind: "note" })), "ok");
    assert.equal(await code(monitor.request("send", { id: uniqueId("t"), text: "hello customer" })), "forbidden");
    await customer.request("send", { id: uniqueId("m"), text: "anyone?" });
    await waitFor(customer, () => customer.state.conversation.messages.length === 2);
    assert.equal(customer.state.conversation.participants.has(supervisor.sub), false, "a monitor is no participant");
  });

  it("accept a team request: agents (not over their maximum), supervisors, bots (bot requests); named requests by their target only", async () => {
    const team = uniqueId("team");
    const [a1, a2, sup, bot] = [as("agent", { teams: [team] }), as("agent", { teams: [team] }), as("supervisor", { teams: [team] }), as("bot", { teams: [team] })];
    const desk1 = await join(a1, "team", { teamId: team });
    const desk2 = await join(a2, "team", { teamId: team });
    const deskSup = await join(sup, "team", { teamId: team });
    const deskBot = await join(bot, "team", { teamId: team });

    const first = await customerWithConversation(team);
    await waitFor(desk1, () => requests(desk1).length === 1, 5_000, "first request");
    const r1 = requests(desk1)[0];
    assert.equal(await code(deskBot.request("accept", { requestId: r1.id })), "forbidden", "a bot takes no request for agents");
    assert.equal(await code(desk1.request("accept", { requestId: r1.id })), "ok", "an agent");
    const agentRoom = await join(a1, "contact_center", { customerId: first.customerId });
    await waitFor(desk1, () => desk1.state.agents.get(a1.sub)?.activeConversations === 1, 5_000, "a1 at its maximum (1)");

    await customerWithConversation(team);
    await waitFor(desk1, () => requests(desk1).length === 1, 5_000, "second request");
    const r2 = requests(desk1)[0];
    assert.equal(await code(desk1.request("accept", { requestId: r2.id })), "at_capacity", "an agent at its maximum");
    assert.equal(await code(deskSup.request("accept", { requestId: r2.id })), "ok", "a supervisor");

    const { requestId: named } = await agentRoom.request("transfer", { toUserId: a2.sub });
    await waitFor(deskSup, () => requests(deskSup).some((r) => r.id === named), 5_000, "the named request");
    assert.equal(await code(deskSup.request("accept", { requestId: named })), "forbidden", "a request named for someone else");
    assert.equal(await code(deskBot.request("accept", { requestId: named })), "forbidden");
    assert.equal(await code(desk2.request("accept", { requestId: named })), "ok", "its target");

    const botAgent = as("agent", { teams: [BOT_TEAM] });
    const teamBot = as("bot", { teams: [BOT_TEAM] });
    const botTeamAgentDesk = await join(botAgent, "team", { teamId: BOT_TEAM });
    const botDesk = await join(teamBot, "team", { teamId: BOT_TEAM });
    await customerWithConversation(BOT_TEAM);
    await waitFor(botDesk, () => requests(botDesk).some((r) => r.forBot), 5_000, "a bot request");
    const forBot = requests(botDesk).find((r) => r.forBot);
    assert.equal(await code(botTeamAgentDesk.request("accept", { requestId: forBot.id })), "forbidden", "an agent, before it escalated");
    assert.equal(await code(botDesk.request("accept", { requestId: forBot.id })), "ok", "a bot, its request");
  });

  it("transfer, invite: agents and supervisors; not customers, not bots", async () => {
    const { customerId, customer } = await customerWithConversation();
    const agent = await join(as("agent"), "contact_center", { customerId });
    const supervisor = await join(as("supervisor"), "contact_center", { customerId });
    const bot = await join(as("bot"), "contact_center", { customerId });
    for (const [who, room] of [["agent", agent], ["supervisor", supervisor]] as const) {
      assert.equal(await code(room.request("transfer", { toTeamId: "sales", reason: who })), "ok", `${who} transfer`);
      assert.equal(await code(room.request("invite", { userId: uniqueId("x"), teamId: "sales" })), "ok", `${who} invite`);
    }
    for (const [who, room] of [["customer", customer], ["bot", bot]] as const) {
      assert.equal(await code(room.request("transfer", { toTeamId: "sales" })), "forbidden", `${who} transfer`);
      assert.equal(await code(room.request("invite", { userId: "x" })), "forbidden", `${who} invite`);
    }
  });

  it("handover: agents and bots; not customers, not supervisors", async () => {
    const { customerId, customer } = await customerWithConversation();
    const agent = await join(as("agent"), "contact_center", { customerId });
    const bot = await join(as("bot"), "contact_center", { customerId });
    const supervisor = await join(as("supervisor"), "contact_center", { customerId });
    assert.equal(await code(bot.request("handover", { reason: "wants a human" })), "ok");
    assert.equal(await code(agent.request("handover", {})), "ok");
    assert.equal(await code(customer.request("handover", {})), "forbidden");
    assert.equal(await code(supervisor.request("handover", {})), "forbidden");
  });

  it("barge: a supervisor while monitoring; not one taking part already, not agents, bots or customers", async () => {
    const { customerId, customer } = await customerWithConversation();
    const agent = await join(as("agent"), "contact_center", { customerId });
    const bot = await join(as("bot"), "contact_center", { customerId });
    const present = await join(as("supervisor"), "contact_center", { customerId });
    for (const [who, room] of [["customer", customer], ["agent", agent], ["bot", bot]] as const) {
      assert.equal(await code(room.request("barge", {})), "forbidden", who);
    }
    assert.equal(await code(present.request("barge", {})), "invalid_payload", "a supervisor already taking part");
    const supervisor = as("supervisor");
    const monitor = await join(supervisor, "contact_center", { customerId, mode: "monitor" });
    assert.equal(await code(monitor.request("barge", {})), "ok");
    assert.equal(await code(monitor.request("send", { id: uniqueId("t"), text: "I am here too" })), "ok", "now it writes to the customer");
    await waitFor(customer, () => customer.state.conversation.participants.has(supervisor.sub), 5_000, "the supervisor is a participant");
  });

  it("send text: every role in the room (apps: the HTTP API row)", async () => {
    const { customerId, customer } = await customerWithConversation();
    assert.equal(await code(customer.request("send", { id: uniqueId("t"), text: "from the customer" })), "ok");
    for (const role of ["agent", "supervisor", "bot"] as const) {
      const room = await join(as(role), "contact_center", { customerId });
      assert.equal(await code(room.request("send", { id: uniqueId("t"), text: `from the ${role}` })), "ok", role);
    }
    const { messages } = await customer.request("history", {});
    assert.deepEqual(messages.map((m: any) => m.senderRole), ["customer", "customer", "agent", "supervisor", "bot"]);
  });

  it("send note: agents and supervisors; not customers, not bots", async () => {
    const { customerId, customer } = await customerWithConversation();
    const agent = await join(as("agent"), "contact_center", { customerId });
    const supervisor = await join(as("supervisor"), "contact_center", { customerId });
    const bot = await join(as("bot"), "contact_center", { customerId });
    assert.equal(await code(agent.request("send", { id: uniqueId("n"), text: "note a", kind: "note" })), "ok");
    assert.equal(await code(supervisor.request("send", { id: uniqueId("n"), text: "note s", kind: "note" })), "ok");
    assert.equal(await code(customer.request("send", { id: uniqueId("n"), text: "x", kind: "note" })), "forbidden");
    assert.equal(await code(bot.request("send", { id: uniqueId("n"), text: "x", kind: "note" })), "forbidden");
  });

  it("see notes (state, history): agents and supervisors; not customers, not bots", async () => {
    const { customerId, customer } = await customerWithConversation();
    const agent = await join(as("agent"), "contact_center", { customerId });
    const supervisor = await join(as("supervisor"), "contact_center", { customerId });
    const bot = await join(as("bot"), "contact_center", { customerId });
    await agent.request("send", { id: uniqueId("n"), text: "internal: refund approved", kind: "note" });
    const after = await customer.request("send", { id: uniqueId("t"), text: "thanks" });
    for (const room of [agent, supervisor]) {
      await waitFor(room, () => room.state.conversation?.notes?.length === 1 && room.state.lastSeq === after.seq, 5_000, "the note in state");
    }
    for (const room of [customer, bot]) {
      await waitFor(room, () => room.state.lastSeq === after.seq, 5_000, "the later message in state");
      assert.equal(room.state.conversation.notes?.length ?? 0, 0, "no note in the state");
    }
    const kinds = async (room: Room<any>) => (await room.request("history", { limit: 200 })).messages.map((m: any) => m.kind);
    assert.ok((await kinds(agent)).includes("note"));
    assert.ok((await kinds(supervisor)).includes("note"));
    assert.ok(!(await kinds(customer)).includes("note"), "customer history has no notes");
    assert.ok(!(await kinds(bot)).includes("note"), "bot history has no notes");
  });

  it("end: agents and supervisors; not customers, not bots", async () => {
    const { customerId, customer } = await customerWithConversation();
    const bot = await join(as("bot"), "contact_center", { customerId });
    assert.equal(await code(customer.request("end", {})), "forbidden");
    assert.equal(await code(bot.request("end", {})), "forbidden");
    const agent = await join(as("agent"), "contact_center", { customerId });
    assert.equal(await code(agent.request("end", {})), "ok");
    await customer.request("send", { id: uniqueId("t"), text: "again" });
    const supervisor = await join(as("supervisor"), "contact_center", { customerId });
    assert.equal(await code(supervisor.request("end", {})), "ok");
  });

  it("history, conversations: everyone in the room, customers without notes; never another room's", async () => {
    const { customerId, customer } = await customerWithConversation();
    const agent = await join(as("agent"), "contact_center", { customerId });
    await agent.request("send", { id: uniqueId("n"), text: "note", kind: "note" });
    await agent.request("end", {});
    const rooms = [customer, agent, await join(as("supervisor"), "contact_center", { customerId }), await join(as("bot"), "contact_center", { customerId })];
    for (const room of rooms) {
      assert.equal(await code(room.request("history", {})), "ok");
      const { conversations } = await room.request("conversations", {});
      assert.equal(conversations.length, 1);
    }
    const { conversations } = await customer.request("conversations", {});
    const page = await customer.request("history", { conversationId: conversations[0].id });
    assert.ok(page.messages.length > 0 && page.messages.every((m: any) => m.kind !== "note"));
    // another customer, in its own room, cannot read this room's conversation
    const { customer: stranger } = await customerWithConversation();
    assert.equal(await code(stranger.request("history", { conversationId: conversations[0].id })), "unknown_conversation");
  });

  it("the HTTP API: apps only, in customer rooms (contact_center and private), never team rooms", async () => {
    const { customerId, customer } = await customerWithConversation();
    const privateRoom = await join(as("agent"), "private", { customers: [customerId] });
    await join(as("agent"), "team", { teamId: "sales" });
    const call = async (who: Who, method: string, path: string, body?: unknown) => {
      const res = await fetch(`${server.url}/api${path}`, {
        method,
        headers: { "content-type": "application/json", authorization: `Bearer ${await signToken(TEST_SECRET, who)}` },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return `${res.status} ${(await res.json() as any).code ?? ""}`.trim();
    };
    const app = as("app");
    assert.equal(await call(app, "POST", `/rooms/cc-${customerId}/messages`, { id: uniqueId("a"), text: "from the CRM" }), "200");
    assert.equal(await call(app, "POST", `/rooms/${privateRoom.roomId}/messages`, { id: uniqueId("a"), text: "from the CRM" }), "200");
    assert.equal(await call(app, "GET", `/rooms/cc-${customerId}/conversations`), "200");
    assert.equal(await call(app, "GET", `/rooms/team-sales/conversations`), "403 forbidden");
    assert.equal(await call(app, "POST", `/rooms/team-sales/messages`, { id: uniqueId("a"), text: "x" }), "403 forbidden");
    for (const role of ["customer", "agent", "supervisor", "bot"] as const) {
      const who = role === "customer" ? { sub: customerId, role } : as(role);
      assert.equal(await call(who, "GET", `/rooms/cc-${customerId}/conversations`), "403 forbidden", role);
      assert.equal(await call(who, "POST", `/rooms/cc-${customerId}/messages`, { id: uniqueId("a"), text: "x" }), "403 forbidden", role);
    }
    await until(() => customer.state.conversation?.messages.some((m: any) => m.senderRole === "app"), 5_000, "the app's message reaches the customer");
  });

  it("the connector API: connectors only, for the channel types of their token; links by apps only", async () => {
    const post = async (who: Who & { channels?: string[] }, path: string, body: unknown) => {
      const res = await fetch(`${server.url}/api${path}`, {
        method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${await signToken(TEST_SECRET, who)}` }, body: JSON.stringify(body),
      });
      return `${res.status} ${(await res.json() as any).code ?? ""}`.trim();
    };
    const message = () => ({ address: `+1${Date.now()}`, messageId: uniqueId("p"), text: "hi" });
    assert.equal(await post({ ...as("connector"), channels: ["sms"] }, "/channels/sms/messages", message()), "200");
    assert.equal(await post({ ...as("connector"), channels: ["email"] }, "/channels/sms/messages", message()), "403 forbidden");
    assert.equal(await post(as("connector"), "/channels/sms/messages", message()), "403 forbidden", "no channels claim");
    for (const role of ["customer", "agent", "supervisor", "bot", "app"] as const) {
      assert.equal(await post({ ...as(role), channels: ["sms"] }, "/channels/sms/messages", message()), "403 forbidden", role);
    }
    const customerId = uniqueId("linked");
    assert.equal(await post(as("app"), `/customers/${customerId}/channels`, { type: "sms", address: "+1999" }), "200");
    for (const role of ["customer", "agent", "supervisor", "bot", "connector"] as const) {
      assert.equal(await post({ ...as(role), channels: ["sms"] }, `/customers/${customerId}/channels`, { type: "sms", address: "+1999" }), "403 forbidden", role);
    }
    await refused({ ...as("connector"), channels: ["sms"] } as Who, "contact_center", { customerId }, /forbidden/);
  });

  it("attachments: the room's customers, staff who may join it and apps upload and get URLs; nobody for team rooms", async () => {
    const { customerId } = await customerWithConversation();
    const status = async (who: Who & { channels?: string[] }, roomId: string, id?: string) => {
      const bearer = `Bearer ${await signToken(TEST_SECRET, who)}`;
      const res = id
        ? await fetch(`${server.url}/api/rooms/${roomId}/attachments/${id}`, { headers: { authorization: bearer } })
        : await fetch(`${server.url}/api/rooms/${roomId}/attachments?name=a.txt`, { method: "POST", headers: { "content-type": "text/plain", authorization: bearer }, body: "hello" });
      const body = await res.json() as any;
      return id ? `${res.status}${body.url ? " url" : ""}` : res.status === 200 ? body.id : String(res.status);
    };
    const id = await status({ sub: customerId, role: "customer" }, `cc-${customerId}`);
    assert.match(id, /^att-/);
    for (const who of [{ sub: customerId, role: "customer" as const }, as("agent"), as("supervisor"), as("bot"), as("app")]) {
      assert.equal(await status(who, `cc-${customerId}`, id), "200 url", who.role);
    }
    assert.equal(await status(as("customer"), `cc-${customerId}`, id), "403", "another customer");
    assert.equal(await status({ ...as("connector"), channels: ["web"] }, `cc-${customerId}`, id), "403", "a connector");
    assert.equal(await status(as("customer"), `cc-${customerId}`), "403", "another customer uploads");
    assert.equal(await status(as("agent"), "team-sales"), "400", "a team room is no customer room");
  });
});
