import assert from "node:assert/strict";
import type { Room } from "@colyseus/sdk";
import { startOwnRedis, type OwnRedis } from "./helpers/redisServer";
import {
  clientFor, sleep, startServerProcess, uniqueId, until, waitFor, type ServerProcess, type Who,
} from "./helpers/server";

import { rejection } from "./helpers/fixtures";

const requests = (room: Room<any>) => [...room.state.requests.values()] as any[];

describe("the agent desk: queue, routing, transfer, supervision, bots (3 processes, Redis)", function () {
  this.timeout(90_000);
  let redis: OwnRedis;
  const nodes: ServerProcess[] = [];
  const open: Room<any>[] = [];
  const url = (i: number) => nodes[i % nodes.length].url;

  before(async () => {
    redis = await startOwnRedis();
    const env = {
      REDIS_URL: redis.url, REQUEST_ESCALATE_MS: "1500", BOT_TEAMS: "botteam", AGENT_MAX_CONVERSATIONS: "5",
      COLYSEUS_PRESENCE_SHORT_TIMEOUT: "1000",
      // the accept race has every agent grab all 100 requests at once: the desk budget
      // (test/roomPolicy.test.ts) is raised out of its way
      DESK_ACTIONS_PER_SECOND: "1000",
    };
    for (let i = 0; i < 3; i++) { nodes.push(await startServerProcess(env)); }
  });
  afterEach(async () => { await Promise.all(open.splice(0).map((r) => r.connection.isOpen ? r.leave().catch(() => {}) : undefined)); });
  after(async () => {
    await Promise.all(nodes.map((n) => n.kill()));
    await redis?.stop();
  });

  async function join(who: Who, name: string, options: Record<string, unknown>, via = 0) {
    const room = await (await clientFor(url(via), who)).joinOrCreate(name, options);
    open.push(room);
    return room;
  }
  const agentOf = (teamId: string, role: "agent" | "supervisor" | "bot" = "agent", id = uniqueId(role)): Who =>
    ({ sub: id, role, name: `${role} ${id}`, teams: [teamId] });
  async function customerAsks(teamId: string, via = 0, text = "I need help") {
    const customerId = uniqueId("cust");
    const room = await join({ sub: customerId, role: "customer" }, "contact_center", { channel: { type: "web" }, teamId }, via);
    await room.request("send", { id: uniqueId("m"), text });
    return { customerId, room };
  }

  it("a new conversation without an agent queues a request the team sees live on every process; one accept wins", async () => {
    const team = uniqueId("t");
    const a1 = agentOf(team);
    const a2 = agentOf(team);
    const desk1 = await join(a1, "team", { teamId: team }, 0);
    const desk2 = await join(a2, "team", { teamId: team }, 1);
    const offers: any[] = [];
    desk1.onMessage("offer", (r) => offers.push(r));
    desk2.onMessage("offer", (r) => offers.push(r));

    const { customerId, room: customer } = await customerAsks(team, 2);
    await waitFor(desk1, () => requests(desk1).length === 1, 5_000, "request on desk 1");
    await waitFor(desk2, () => requests(desk2).length === 1, 5_000, "request on desk 2");
    const request = requests(desk1)[0];
    assert.equal(request.roomId, `cc-${customerId}`);
    assert.equal(request.kind, "new");
    await until(() => offers.length === 1, 5_000, "an offer");
    assert.equal(offers[0].id, request.id);

    const [r1, r2] = await Promise.allSettled([
      desk1.request("accept", { requestId: request.id }),
      desk2.request("accept", { requestId: request.id }),
    ]);
    const won = [r1, r2].filter((r) => r.status === "fulfilled");
    const lost = [r1, r2].filter((r) => r.status === "rejected") as PromiseRejectedResult[];
    assert.equal(won.length, 1);
    assert.equal(lost[0].reason.reason.code, "already_accepted");
    const answer = (won[0] as PromiseFulfilledResult<any>).value;
    assert.deepEqual([answer.roomId, answer.customerId, answer.roomKind], [`cc-${customerId}`, customerId, "contact_center"]);
    await waitFor(desk2, () => requests(desk2).length === 0, 5_000, "request gone");

    const winner = r1.status === "fulfilled" ? a1 : a2;
    const agentRoom = await join(winner, "contact_center", { customerId }, 1);
    await agentRoom.request("send", { id: "hello", text: "Hi, I am here" });
    await waitFor(customer, () => customer.state.conversation.messages.length === 2);
    await waitFor(desk1, () => desk1.state.agents.get(winner.sub)?.activeConversations === 1, 5_000, "active count");
    await waitFor(desk1, () => desk1.state.live.get(`cc-${customerId}`)?.agents.includes(winner.sub), 5_000, "live conversation");
  });

  it("routing offers to available agents with the fewest active conversations; away agents get none", async () => {
    const team = uniqueId("t");
    const busy = agentOf(team, "agent", "a-busy-" + uniqueId(""));
    const idle = agentOf(team, "agent", "b-idle-" + uniqueId(""));
    const away = agentOf(team, "agent", "0-away-" + uniqueId(""));
    const deskBusy = await join(busy, "team", { teamId: team }, 0);
    const deskIdle = await join(idle, "team", { teamId: team }, 1);
    const deskAway = await join(away, "team", { teamId: team }, 2);
    await deskAway.request("status", { status: "away" });
    const offered = new Map<string, string[]>();
    for (const [who, desk] of [[busy, deskBusy], [idle, deskIdle], [away, deskAway]] as const) {
      offered.set(who.sub, []);
      desk.onMessage("offer", (r: any) => offered.get(who.sub)!.push(r.id));
    }
    // give `busy` one conversation: it accepts the first request
    await customerAsks(team);
    await until(() => [...offered.values()].flat().length === 1, 5_000, "first offer");
    assert.equal(offered.get(busy.sub)!.length, 1, "equal counts: the first available agent by id");
    await deskBusy.request("accept", { requestId: offered.get(busy.sub)![0] });
    await waitFor(deskIdle, () => deskIdle.state.agents.get(busy.sub)?.activeConversations === 1, 5_000, "busy has one");

    await customerAsks(team);
    await until(() => offered.get(idle.sub)!.length > 0 || (offered.get(busy.sub)!.length > 1), 5_000, "second offer");
    assert.equal(offered.get(idle.sub)!.length, 1, "the agent with fewer conversations is offered first");
    assert.deepEqual(offered.get(away.sub), [], "an away agent is offered nothing");

    assert.equal((await rejection(deskAway.request("status", { status: "sleeping" }))).code, "invalid_payload");
  });

  it("a request nobody accepts is escalated to the team's supervisors", async () => {
    const team = uniqueId("t");
    const supervisor = await join(agentOf(team, "supervisor"), "team", { teamId: team }, 1);
    const escalated = new Promise<any>((resolve) => supervisor.onMessage("escalated", resolve));
    const started = Date.now();
    const { customerId } = await customerAsks(team, 0);
    const request = await escalated;
    assert.equal(request.roomId, `cc-${customerId}`);
    assert.ok(Date.now() - started >= 1_400, "not before REQUEST_ESCALATE_MS");
    await waitFor(supervisor, () => requests(supervisor)[0]?.escalated === true);
    // a supervisor takes it
    const answer = await supervisor.request("accept", { requestId: request.id });
    assert.equal(answer.customerId, customerId);
  });

  it("transfer to another agent and conference with a second agent each leave an event in the transcript", async () => {
    const team = uniqueId("t");
    const [a, b, c] = [agentOf(team), agentOf(team), agentOf(team)];
    const deskB = await join(b, "team", { teamId: team }, 1);
    const deskC = await join(c, "team", { teamId: team }, 2);
    const { customerId, room: customer } = await customerAsks(team);
    const roomA = await join(a, "contact_center", { customerId }, 0);
    await roomA.request("send", { id: "a1", text: "Let me get a colleague" });

    // conference: C is invited, B may not take C's invitation
    const invite = await roomA.request("invite", { userId: c.sub, reason: "second opinion" });
    await waitFor(deskC, () => requests(deskC).some((r) => r.id === invite.requestId), 5_000, "invitation queued");
    assert.equal((await rejection(deskB.request("accept", { requestId: invite.requestId }))).code, "forbidden");
    const conf = await deskC.request("accept", { requestId: invite.requestId });
    assert.equal(conf.kind, "conference");
    const roomC = await join(c, "contact_center", { customerId }, 2);
    await waitFor(customer, () => customer.state.conversation.participants.has(c.sub), 5_000, "C in the conversation");
    assert.ok(customer.state.conversation.participants.has(a.sub));

    // transfer to B
    const transfer = await roomA.request("transfer", { toUserId: b.sub, reason: "billing question" });
    await waitFor(deskB, () => requests(deskB).some((r) => r.id === transfer.requestId));
    assert.equal((await deskB.request("accept", { requestId: transfer.requestId })).kind, "transfer");
    await join(b, "contact_center", { customerId }, 1);
    await roomA.leave();
    await roomC.leave();

    const page = await customer.request("history", {});
    const events = page.messages.filter((m: any) => m.kind === "event").map((m: any) => m.text);
    assert.equal(events.length, 2);
    assert.match(events[0], new RegExp(`invited agent ${c.sub}`));
    assert.match(events[1], new RegExp(`transferred the conversation to agent ${b.sub}: billing question`));
    assert.ok(page.messages.every((m: any, i: number) => i === 0 || m.seq === page.messages[i - 1].seq + 1), "events are sequenced like messages");
    assert.equal((await rejection(customer.request("transfer", { toUserId: b.sub }))).code, "forbidden");
  });

  it("a supervisor sees live conversations, monitors silently, whispers to the agent, and barges in", async () => {
    const team = uniqueId("t");
    const agent = agentOf(team);
    const sup = agentOf(team, "supervisor");
    const supDesk = await join(sup, "team", { teamId: team }, 2);
    const { customerId, room: customer } = await customerAsks(team, 0);
    const agentRoom = await join(agent, "contact_center", { customerId }, 1);
    await waitFor(supDesk, () => supDesk.state.live.get(`cc-${customerId}`)?.agents.includes(agent.sub), 5_000, "live conversation with its agent");

    const monitor = await join(sup, "contact_center", { customerId, mode: "monitor" }, 2);
    await agentRoom.request("send", { id: "x", text: "How can I help?" });
    await waitFor(monitor, () => monitor.state.conversation?.messages.length === 2, 5_000, "monitor sees the chat");
    assert.equal(customer.state.conversation.participants.has(sup.sub), false, "monitoring is silent");
    assert.equal((await rejection(monitor.request("send", { id: "loud", text: "hello customer" }))).code, "forbidden");

    await monitor.request("send", { id: "w1", text: "Offer the discount", kind: "note" });
    await waitFor(agentRoom, () => agentRoom.state.conversation.notes.length === 1, 5_000, "agent hears the whisper");
    await sleep(200);
    assert.equal(customer.state.conversation.notes?.length ?? 0, 0, "the customer does not");

    const barged = await monitor.request("barge", {});
    assert.ok(barged.seq > 0);
    await waitFor(customer, () => customer.state.conversation.participants.has(sup.sub), 5_000, "supervisor takes part");
    assert.equal((await monitor.request("send", { id: "loud2", text: "I am the supervisor" })).seq, barged.seq + 1);
    const events = (await customer.request("history", {})).messages.filter((m: any) => m.kind === "event");
    assert.equal(events.length, 1);
    await assert.rejects(join(agentOf(team), "contact_center", { customerId, mode: "monitor" }), /forbidden: only supervisors monitor/);
  });

  it("a team's bot takes new conversations first and hands over to an agent on request", async () => {
    const team = "botteam";
    const bot = agentOf(team, "bot");
    const agent = agentOf(team);
    const botDesk = await join(bot, "team", { teamId: team }, 0);
    const agentDesk = await join(agent, "team", { teamId: team }, 1);
    const botOffers: any[] = [];
    botDesk.onMessage("offer", (r) => botOffers.push(r));

    const { customerId, room: customer } = await customerAsks(team, 2, "hi");
    await until(() => botOffers.length === 1, 5_000, "the bot's offer");
    assert.equal(botOffers[0].forBot, true);
    assert.equal((await rejection(agentDesk.request("accept", { requestId: botOffers[0].id }))).code, "forbidden");
    await botDesk.request("accept", { requestId: botOffers[0].id });
    const botRoom = await join(bot, "contact_center", { customerId }, 0);
    await botRoom.request("send", { id: "b1", text: "Hello, I am the bot. Type 'agent' for a human." });
    await customer.request("send", { id: "c2", text: "agent please" });

    const handover = await botRoom.request("handover", { reason: "customer asked for a human" });
    await waitFor(agentDesk, () => requests(agentDesk).some((r) => r.id === handover.requestId && r.kind === "handover" && !r.forBot), 5_000, "handover queued for agents");
    await agentDesk.request("accept", { requestId: handover.requestId });
    await join(agent, "contact_center", { customerId }, 1);
    await waitFor(customer, () => customer.state.conversation.participants.has(agent.sub));
    const events = (await customer.request("history", {})).messages.filter((m: any) => m.kind === "event").map((m: any) => m.text);
    assert.equal(events.length, 1);
    assert.match(events[0], /handed the conversation over to an agent: customer asked for a human/);
  });

  it("accept race across 3 processes: 20 agents, 100 requests, each accepted exactly once", async () => {
    const team = uniqueId("race");
    const agents = Array.from({ length: 20 }, () => agentOf(team));
    const desks = await Promise.all(agents.map((a, i) => join(a, "team", { teamId: team }, i)));
    await Promise.all(Array.from({ length: 100 }, (_, i) => customerAsks(team, i)));
    await waitFor(desks[0], () => requests(desks[0]).length === 100, 20_000, "100 requests queued");
    const ids = requests(desks[0]).map((r) => r.id);

    const winners = new Map<string, string[]>();
    const refusals = new Map<string, number>();
    await Promise.all(desks.map(async (desk, i) => {
      // every agent grabs every request, in its own order
      const order = [...ids].sort(() => Math.random() - 0.5);
      for (const requestId of order) {
        try {
          await desk.request("accept", { requestId });
          winners.set(requestId, [...(winners.get(requestId) ?? []), agents[i].sub]);
        } catch (e: any) {
          refusals.set(e.reason?.code, (refusals.get(e.reason?.code) ?? 0) + 1);
        }
      }
    }));
    assert.equal(winners.size, 100, "every request accepted");
    assert.ok([...winners.values()].every((w) => w.length === 1), "exactly one winner each");
    assert.deepEqual([...refusals.keys()].sort(), ["already_accepted", "at_capacity"].filter((c) => refusals.has(c)));
    const perAgent = new Map<string, number>();
    for (const [w] of winners.values()) { perAgent.set(w, (perAgent.get(w) ?? 0) + 1); }
    assert.ok([...perAgent.values()].every((n) => n <= 5), "nobody over its maximum of concurrent conversations");
    await waitFor(desks[5], () => requests(desks[5]).length === 0, 5_000, "queue empty everywhere");
  });
});
