import assert from "node:assert/strict";
import type { Room } from "@colyseus/sdk";
import { signToken } from "../server/auth";
import { flushTestDb, REDIS_TEST_URL } from "./helpers/redis";
import { clientFor, sleep, startServerProcess, TEST_SECRET, uniqueId, until, waitFor, type ServerProcess, type Who } from "./helpers/server";

/**
 * The room rules a hostile-user audit found missing (issue #11 "room rules", #12's
 * joinById bug): each test against real server processes and SDK clients.
 */

/** "ok", or the rejection's code (requests) or message (joins) */
const code = (p: Promise<unknown>) => p.then(() => "ok", (e: any) => e.reason?.code ?? e.message);
const requests = (desk: Room<any>) => [...desk.state.requests.values()] as any[];
/** what must never reach a stored text */
const UNSAFE = /[\u0000-\u0008\u000B-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]/;

describe("room rules: permissions and input (issue #11)", function () {
  this.timeout(60_000);
  let server: ServerProcess;
  let scoped: ServerProcess;
  const open: Room<any>[] = [];

  const join = async (url: string, who: Who, name: string, options: any) => {
    const room = await (await clientFor(url, who)).joinOrCreate(name, options);
    open.push(room);
    return room;
  };
  const joinById = async (url: string, who: Who, roomId: string) => {
    const room = await (await clientFor(url, who)).joinById(roomId);
    open.push(room);
    return room;
  };
  /** whether the room's record exists, asked through the HTTP API (no join, so no actor) */
  const stored = async (url: string, roomId: string) => {
    const token = await signToken(TEST_SECRET, { sub: uniqueId("app"), role: "app" });
    const res = await fetch(`${url}/api/rooms/${roomId}/conversations`, { headers: { authorization: `Bearer ${token}` } });
    await res.body?.cancel();
    assert.ok(res.status === 200 || res.status === 404, `status ${res.status}`);
    return res.status === 200;
  };
  const customer = (): Who => ({ sub: uniqueId("cust"), role: "customer" });
  const staff = (role: "agent" | "supervisor" | "bot", teams: string[]): Who => ({ sub: uniqueId(role), role, teams });
  async function customerWithConversation(url: string, teamId?: string) {
    const who = customer();
    const room = await join(url, who, "contact_center", { channel: { type: "web" }, ...(teamId ? { teamId } : {}) });
    await room.request("send", { id: uniqueId("m"), text: "hello" });
    return { customerId: who.sub, room };
  }

  before(async () => {
    [server, scoped] = await Promise.all([
      startServerProcess({
        AGENT_MAX_CONVERSATIONS: "2", PRIVATE_ROOMS_PER_CUSTOMER: "2", PRIVATE_ROOMS_PER_HOUR: "3",
        PRIVATE_ROOM_UNUSED_MS: "1500", SWEEP_INTERVAL_MS: "200",
      }),
      startServerProcess({ AGENT_TEAM_SCOPED: "true", DEFAULT_TEAM: "support" }),
    ]);
  });
  afterEach(async () => { await Promise.all(open.splice(0).map((r) => r.connection.isOpen ? r.leave().catch(() => {}) : undefined)); });
  after(async () => { await Promise.all([server?.stop(), scoped?.stop()]); });

  it("an agent may lower its maximum of conversations but never raise it over AGENT_MAX_CONVERSATIONS", async () => {
    const agent = staff("agent", ["capteam"]);
    const desk = await join(server.url, agent, "team", { teamId: "capteam" });
    assert.deepEqual(await desk.request("status", { status: "available", maxConversations: 50 }), { maxConversations: 2 }, "clamped to the configured 2");
    await waitFor(desk, () => desk.state.agents.get(agent.sub)?.maxConversations === 2, 5_000, "the clamped maximum in state");
    assert.deepEqual(await desk.request("status", { status: "available", maxConversations: 1 }), { maxConversations: 1 }, "lowered");
    await waitFor(desk, () => desk.state.agents.get(agent.sub)?.maxConversations === 1, 5_000, "the lowered maximum in state");
    assert.deepEqual(await desk.request("status", { status: "busy" }), { maxConversations: 1 }, "unchanged without the field");
  });

  it("an agent that asked for 50 still accepts no more than AGENT_MAX_CONVERSATIONS", async () => {
    const team = uniqueId("cap");
    const agent = staff("agent", [team]);
    const desk = await join(server.url, agent, "team", { teamId: team });
    await desk.request("status", { status: "away", maxConversations: 50 });
    const outcomes: string[] = [];
    for (let i = 0; i < 3; i++) {
      const { customerId } = await customerWithConversation(server.url, team);
      await waitFor(desk, () => requests(desk).length === 1, 5_000, `request ${i}`);
      const request = requests(desk)[0];
      const outcome = await code(desk.request("accept", { requestId: request.id }));
      outcomes.push(outcome);
      if (outcome === "ok") {
        await join(server.url, agent, "contact_center", { customerId });
        await waitFor(desk, () => desk.state.agents.get(agent.sub)?.activeConversations === i + 1, 5_000, "counted");
      } else {
        break;
      }
    }
    assert.deepEqual(outcomes, ["ok", "ok", "at_capacity"]);
  });

  it("a monitoring supervisor cannot end the conversation until it barges in", async () => {
    const { customerId, room } = await customerWithConversation(server.url);
    const monitor = await join(server.url, staff("supervisor", ["support"]), "contact_center", { customerId, mode: "monitor" });
    assert.equal(await code(monitor.request("end", { reason: "silently" })), "forbidden");
    await sleep(200);
    assert.ok(room.state.conversation, "the conversation is still active");
    await monitor.request("barge", {});
    assert.equal(await code(monitor.request("end", { reason: "done" })), "ok", "after barging in");
  });

  it("stored texts lose C0/C1 and bidi controls: the event of a transfer with NUL, ESC and overrides in its reason", async () => {
    const { customerId } = await customerWithConversation(server.url);
    const agent = await join(server.url, { ...staff("agent", ["support"]), name: "Eve\u202E\u2066lyn\u0000" }, "contact_center", { customerId });
    const { seq } = await agent.request("transfer", { toTeamId: "sales", reason: "a\u0000b\u001b[31m c\u202Eevil\u2067x\u0085" });
    const { messages } = await agent.request("history", { after: seq - 1, limit: 1 });
    assert.equal(messages[0].kind, "event");
    assert.doesNotMatch(messages[0].text, UNSAFE);
    assert.match(messages[0].text, /^Evelyn transferred the conversation to team sales: ab\[31m cevilx$/);
    assert.equal(messages[0].senderName, "Evelyn", "the token's name is normalised too");
    assert.equal(await code(agent.request("invite", { userId: "x", reason: "\u200B\u2060 \uFEFF\u202E" })), "invalid_payload", "a reason of nothing visible");
    assert.equal(await code(agent.request("end", { reason: "\u0000\u200D" })), "invalid_payload", "an end reason of nothing visible");
    assert.equal(await code(agent.request("send", { id: uniqueId("z"), text: "\u200B\u200C\u200D\u2060\uFEFF \n\u202E" })), "invalid_payload", "a text of nothing visible");
  });

  it("names, private-room subjects and channel addresses are normalised, and refused when blank", async () => {
    const who = customer();
    const room = await join(server.url, who, "contact_center", { channel: { type: "web", address: "https://shop.test/\u202Egnp.exe\u0000" } });
    await room.request("send", { id: uniqueId("m"), text: "hi" });
    await waitFor(room, () => room.state.conversation?.channelSessions.size === 1, 5_000, "the channel session");
    const [session] = [...room.state.conversation.channelSessions.values()] as any[];
    assert.equal(session.address, "https://shop.test/gnp.exe");
    await assert.rejects(join(server.url, customer(), "contact_center", { channel: { type: "web", address: "\u200B\u202E" } }), /invalid_options/);
    await assert.rejects(join(server.url, { ...customer(), name: "\u200B\u2066\u2069 " }, "contact_center", {}), /auth_invalid/);
    const agent = staff("agent", ["support"]);
    await assert.rejects(join(server.url, agent, "private", { customers: [who.sub], subject: "\u200B \u202D" }), /invalid_options/);
    const pr = await join(server.url, agent, "private", { customers: [who.sub], subject: "re\u202Efund\u0007" });
    assert.ok(pr.roomId.startsWith("pr-"));
  });

  it("a customer creates private rooms for itself only, within PRIVATE_ROOMS_PER_CUSTOMER and PRIVATE_ROOMS_PER_HOUR; unused ones are removed", async () => {
    const me = customer();
    const other = customer();
    await assert.rejects(join(server.url, me, "private", { customers: [me.sub, other.sub] }), /forbidden/);
    const r1 = await join(server.url, me, "private", {});
    const r2 = await join(server.url, me, "private", { customers: [me.sub] });
    await assert.rejects(join(server.url, me, "private", {}), /too_many_rooms/, "a third open room");
    const ids = [r1.roomId, r2.roomId];
    await r1.leave();
    await r2.leave();
    // unused (no message) and nobody connected: removed after PRIVATE_ROOM_UNUSED_MS
    assert.ok(await stored(server.url, ids[0]));
    await until(async () => !(await stored(server.url, ids[0])) && !(await stored(server.url, ids[1])), 15_000, "r1 and r2 removed");
    await assert.rejects(join(server.url, me, "private", { roomId: ids[0] }), /room_not_found/);
    const r3 = await join(server.url, me, "private", {});
    assert.ok(r3.roomId.startsWith("pr-"), "room counted free again");
    await assert.rejects(join(server.url, me, "private", {}), /rate_limited/, "a fourth room within the hour");
  });

  it("a private room in use is kept: a connected member, or a conversation", async () => {
    const member = customer();
    const agent = staff("agent", ["support"]);
    const held = await join(server.url, agent, "private", { customers: [member.sub] });
    const used = await join(server.url, agent, "private", { customers: [member.sub] });
    await used.request("send", { id: uniqueId("m"), text: "see you" });
    await used.request("end", {});
    await used.leave();
    await sleep(3_000);
    assert.ok(await stored(server.url, held.roomId) && await stored(server.url, used.roomId));
    assert.equal((await join(server.url, member, "private", { roomId: held.roomId })).roomId, held.roomId, "the connected one");
    const back = await join(server.url, member, "private", { roomId: used.roomId });
    assert.equal((await back.request("conversations", {})).conversations.length, 1, "the used one, with its history");
  });

  it("staff join a running private room by id; a non-member customer does not (#12)", async () => {
    const member = customer();
    const creator = await join(server.url, staff("agent", ["support"]), "private", { customers: [member.sub] });
    const byId = await joinById(server.url, staff("agent", ["support"]), creator.roomId);
    assert.equal(byId.roomId, creator.roomId);
    assert.equal((await joinById(server.url, staff("supervisor", ["support"]), creator.roomId)).roomId, creator.roomId);
    await assert.rejects(joinById(server.url, customer(), creator.roomId), /forbidden: not a member/);
    // a create without customers is still refused
    await assert.rejects(join(server.url, staff("agent", ["support"]), "private", {}), /invalid_options/);
  });

  it("AGENT_TEAM_SCOPED: private rooms belong to a team; staff and bots of other teams are refused, by id too", async () => {
    const member = customer();
    const creator = await join(scoped.url, staff("agent", ["sales"]), "private", { customers: [member.sub] });
    assert.equal((await joinById(scoped.url, staff("agent", ["sales"]), creator.roomId)).roomId, creator.roomId);
    await assert.rejects(joinById(scoped.url, staff("agent", ["billing"]), creator.roomId), /forbidden/);
    await assert.rejects(join(scoped.url, staff("agent", ["billing"]), "private", { roomId: creator.roomId }), /forbidden/);
    await assert.rejects(join(scoped.url, staff("bot", ["billing"]), "private", { roomId: creator.roomId }), /forbidden/);
    assert.equal((await join(scoped.url, staff("bot", ["sales"]), "private", { roomId: creator.roomId })).roomId, creator.roomId);
    // a customer's own private room belongs to the team it names, else the default team
    const mine = await join(scoped.url, member, "private", { teamId: "billing" });
    assert.equal((await join(scoped.url, staff("agent", ["billing"]), "private", { roomId: mine.roomId })).roomId, mine.roomId);
    await assert.rejects(join(scoped.url, staff("agent", ["sales"]), "private", { roomId: mine.roomId }), /forbidden/);
  });

  it("AGENT_TEAM_SCOPED: bots join only their teams' customer rooms", async () => {
    const { customerId } = await customerWithConversation(scoped.url);
    await assert.rejects(join(scoped.url, staff("bot", ["sales"]), "contact_center", { customerId }), /forbidden: this customer's room belongs to team support/);
    assert.equal((await join(scoped.url, staff("bot", ["support"]), "contact_center", { customerId })).roomId, `cc-${customerId}`);
  });

  it("AGENT_TEAM_SCOPED: the agent who accepts a transfer to another team may join the customer's room", async () => {
    const { customerId, room } = await customerWithConversation(scoped.url);
    const from = await join(scoped.url, staff("agent", ["support"]), "contact_center", { customerId });
    const target = staff("agent", ["sales"]);
    const bystander = staff("agent", ["sales"]);
    const desk = await join(scoped.url, target, "team", { teamId: "sales" });
    const { requestId } = await from.request("transfer", { toTeamId: "sales", reason: "pricing" });
    await waitFor(desk, () => requests(desk).some((r) => r.id === requestId), 5_000, "the transfer in sales' queue");
    await desk.request("accept", { requestId });
    const joined = await join(scoped.url, target, "contact_center", { customerId });
    assert.equal(joined.roomId, `cc-${customerId}`);
    await joined.request("send", { id: uniqueId("m"), text: "sales here" });
    await waitFor(room, () => room.state.conversation?.messages.some((m: any) => m.senderId === target.sub), 5_000, "the customer sees sales");
    await assert.rejects(join(scoped.url, bystander, "contact_center", { customerId }), /forbidden/, "only the accepting agent");
  });

  it("on Redis nodes: the open-room count holds across two nodes, and the sweeper of either removes unused rooms", async () => {
    await flushTestDb();
    const env = {
      REDIS_URL: REDIS_TEST_URL, PRIVATE_ROOMS_PER_CUSTOMER: "2", PRIVATE_ROOM_UNUSED_MS: "1500", SWEEP_INTERVAL_MS: "200",
    };
    const nodes = [await startServerProcess(env), await startServerProcess(env)];
    try {
      const me = customer();
      const r1 = await join(nodes[0].url, me, "private", {});
      const r2 = await join(nodes[1].url, me, "private", {});
      await assert.rejects(join(nodes[0].url, me, "private", {}), /too_many_rooms/);
      await assert.rejects(join(nodes[1].url, me, "private", {}), /too_many_rooms/);
      const ids = [r1.roomId, r2.roomId];
      await r1.leave();
      await r2.leave();
      await until(async () => !(await stored(nodes[0].url, ids[0])) && !(await stored(nodes[1].url, ids[1])), 15_000, "both removed");
      assert.ok((await join(nodes[1].url, me, "private", {})).roomId.startsWith("pr-"));
    } finally {
      await Promise.all(open.splice(0).map((r) => r.connection.isOpen ? r.leave().catch(() => {}) : undefined));
      await Promise.all(nodes.map((n) => n.stop()));
    }
  });
});
