import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { CloseCode, type Room } from "@colyseus/sdk";
import Redis from "ioredis";
import { rejection } from "./helpers/fixtures";
import { freshDatabase, type FreshDatabase } from "./helpers/pg";
import { startOwnRedis, type OwnRedis } from "./helpers/redisServer";
import {
  clientFor, freePort, sleep, startServerProcess, uniqueId, until, waitFor, type ServerProcess, type Who,
} from "./helpers/server";

/**
 * "The desk never loses a customer" (docs/desk.md): requeue when an agent leaves for
 * good, offer timeouts, waiting that is not idleness, follow-up, routing after an
 * end, queue position and wait, a team actor that restarts with its live
 * conversations. The same scenarios run on one embedded node (SQLite file) and on a
 * cluster of 2 processes (Redis presence, PostgreSQL store).
 */
const TIMERS = {
  CONVERSATION_IDLE_MS: "3000",
  AGENT_DISCONNECT_MS: "1500",
  OFFER_TIMEOUT_MS: "1500",
  QUEUE_MAX_WAIT_MS: "7000",
  SWEEP_INTERVAL_MS: "300",
  COLYSEUS_PRESENCE_SHORT_TIMEOUT: "1000",
  DESK_ACTIONS_PER_SECOND: "1000",
  BOT_TEAMS: "deskbots",
};

interface Setup {
  name: string;
  start(): Promise<void>;
  urls(): string[];
  /** kill -9 the process that runs the team's actor, and start one in its place */
  killTeamActor(teamId: string): Promise<void>;
  stop(): Promise<void>;
}

function embedded(): Setup {
  let node: ServerProcess;
  let dir: string;
  let port: number;
  const env = () => ({ ...TIMERS, DATABASE_URL: `sqlite:${path.join(dir, "cc.sqlite")}`, SQLITE_SYNCHRONOUS: "normal" });
  return {
    name: "one embedded node (SQLite)",
    async start() {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), "cc-desk-"));
      port = await freePort();
      node = await startServerProcess(env(), port);
    },
    urls: () => [node.url],
    async killTeamActor() {
      await node.kill();
      node = await startServerProcess(env(), port);
    },
    async stop() {
      if (process.env.DESK_TEST_LOG) { fs.writeFileSync(process.env.DESK_TEST_LOG, node?.output() ?? ""); }
      await node?.kill();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

function cluster(): Setup {
  let redis: OwnRedis;
  let database: FreshDatabase;
  const nodes: ServerProcess[] = [];
  const env = (port: number) => ({ ...TIMERS, REDIS_URL: redis.url, DATABASE_URL: database.url, PUBLIC_ADDRESS: `127.0.0.1:${port}` });
  const startNode = async () => {
    const port = await freePort();
    const node = await startServerProcess(env(port), port);
    nodes.push(node);
    return node;
  };
  const alive = () => nodes.filter((n) => n.child.exitCode === null && n.child.signalCode === null);
  return {
    name: "a cluster of 2 processes (Redis + PostgreSQL)",
    async start() {
      redis = await startOwnRedis();
      database = await freshDatabase("cc_desk_test");
      await startNode();
      await startNode();
    },
    urls: () => alive().map((n) => n.url),
    async killTeamActor(teamId: string) {
      const client = new Redis(redis.url);
      let host: { publicAddress: string } | null = null;
      try {
        const row = await client.hget("roomcaches", `team-${teamId}`);
        host = row ? JSON.parse(row) : null;
      } finally { client.disconnect(); }
      assert.ok(host, "the team actor is listed");
      const victim = alive().find((n) => n.url.endsWith(`:${host!.publicAddress.split(":").pop()}`));
      assert.ok(victim, "the team actor's process");
      await victim!.kill();
      await startNode();
    },
    async stop() {
      await Promise.all(nodes.map((n) => n.kill()));
      await redis?.stop();
      await database?.drop();
    },
  };
}

const requests = (room: Room<any>) => [...(room.state.requests?.values() ?? [])] as any[];
const texts = (room: Room<any>) => [...room.state.conversation.messages].map((m: any) => m.text as string);

for (const setup of [embedded(), cluster()]) {
  describe(`the desk never loses a customer: ${setup.name}`, function () {
    this.timeout(60_000);
    const open: Room<any>[] = [];
    let next = 0;

    before(() => setup.start());
    afterEach(async () => { await Promise.all(open.splice(0).map((r) => r.connection.isOpen ? r.leave().catch(() => {}) : undefined)); });
    after(() => setup.stop());

    async function join(who: Who, name: string, options: Record<string, unknown>) {
      const urls = setup.urls();
      const room = await (await clientFor(urls[next++ % urls.length], who)).joinOrCreate(name, options);
      room.reconnection.enabled = false;
      open.push(room);
      return room;
    }
    const agentOf = (teamId: string, role: "agent" | "supervisor" | "bot" = "agent"): Who =>
      ({ sub: uniqueId(role), role, name: `${role}-name`, teams: [teamId] });
    async function customerAsks(teamId: string, text = "I need help") {
      const customerId = uniqueId("cust");
      const room = await join({ sub: customerId, role: "customer" }, "contact_center", { channel: { type: "web" }, teamId });
      await room.request("send", { id: uniqueId("m"), text });
      return { customerId, room };
    }
    /** An agent at its desk accepts the offer it gets and joins the customer's room. */
    async function serve(desk: Room<any>, agent: Who, requestId: string, customerId: string) {
      await desk.request("accept", { requestId });
      return join(agent, "contact_center", { customerId });
    }
    const offers = (desk: Room<any>) => {
      const got: any[] = [];
      desk.onMessage("offer", (r) => got.push(r));
      return got;
    };

    // The findings as they were made, with only the fields and requests the desk had then
    // (each failed on the code before this change: see the branch's first commit).
    it("finding (a): an agent accepts and leaves for good; its customer is back in the team's queue", async () => {
      const team = uniqueId("t");
      const a = agentOf(team);
      const deskA = await join(a, "team", { teamId: team });
      const { customerId, room: customer } = await customerAsks(team);
      await waitFor(deskA, () => requests(deskA).length === 1, 5_000, "request queued");
      const roomA = await serve(deskA, a, requests(deskA)[0].id, customerId);
      await waitFor(deskA, () => requests(deskA).length === 0, 5_000, "accepted");
      await roomA.leave();
      await customer.request("send", { id: uniqueId("m"), text: "hello?" });
      await waitFor(deskA, () => requests(deskA).some((r) => r.roomId === `cc-${customerId}`), 8_000, "the customer queued again");
    });

    it("finding (b): a customer waiting with no agent free is not ended as idle", async () => {
      const { room: customer } = await customerAsks(uniqueId("t"));
      const ended: unknown[] = [];
      customer.onMessage("conversation_ended", (m) => ended.push(m));
      await sleep(4_500); // CONVERSATION_IDLE_MS + 1.5 s
      assert.deepEqual(ended, []);
    });

    it("finding (c): after an end, the customer's next message does not go straight to the old agent's open tab", async () => {
      const team = uniqueId("t");
      const a = agentOf(team);
      const deskA = await join(a, "team", { teamId: team });
      const { customerId, room: customer } = await customerAsks(team);
      await waitFor(deskA, () => requests(deskA).length === 1, 5_000, "request queued");
      const roomA = await serve(deskA, a, requests(deskA)[0].id, customerId);
      await roomA.request("end", {});
      await customer.request("send", { id: uniqueId("m"), text: "new question" });
      await waitFor(deskA, () => requests(deskA).some((r) => r.roomId === `cc-${customerId}`), 5_000, "queued, not given to the old tab");
      assert.equal(customer.state.conversation.participants.has(a.sub), false);
      assert.ok((await rejection(roomA.request("send", { id: uniqueId("m"), text: "still here" }))).code);
    });

    it("an agent who leaves for good: after AGENT_DISCONNECT_MS the conversation is requeued at the front; another agent gets the whole transcript", async () => {
      const team = uniqueId("t");
      const [a, b] = [agentOf(team), agentOf(team)];
      const deskA = await join(a, "team", { teamId: team });
      const first = await customerAsks(team, "first customer");
      await waitFor(deskA, () => requests(deskA).length === 1, 5_000, "request queued");
      const roomA = await serve(deskA, a, requests(deskA)[0].id, first.customerId);
      await roomA.request("send", { id: uniqueId("m"), text: "agent A here" });
      await waitFor(first.room, () => first.room.state.conversation?.status === "active" && first.room.state.conversation?.holder === a.sub, 5_000, "active, held by A");

      // A goes away for good (tab closed, no return); a second customer queues meanwhile
      await deskA.request("status", { status: "away" });
      await roomA.leave();
      await deskA.leave();
      const second = await customerAsks(team, "second customer");
      await first.room.request("send", { id: uniqueId("m"), text: "hello? anyone?" });
      // the customer writing does not reset the window (measured from A's last connection closing)
      const left = Date.now();
      await waitFor(first.room, () => first.room.state.conversation?.status === "queued", 10_000, "requeued");
      assert.ok(Date.now() - left >= 1_000, "not before the window");
      assert.ok(texts(first.room).some((t) => /back in the queue/.test(t)), "an event in the transcript");
      await waitFor(first.room, () => first.room.state.conversation.queuePosition === 1, 5_000, "at the front");
      await waitFor(second.room, () => second.room.state.conversation?.queuePosition === 2, 5_000, "the other customer behind it");

      const deskB = await join(b, "team", { teamId: team });
      await waitFor(deskB, () => requests(deskB).length === 2, 5_000, "both requests on B's desk");
      const requeue = requests(deskB).find((r) => r.roomId === `cc-${first.customerId}`);
      assert.equal(requeue?.kind, "requeue");
      const roomB = await serve(deskB, b, requeue.id, first.customerId);
      await waitFor(roomB, () => (roomB.state.conversation?.messages.length ?? 0) >= 4, 5_000, "B's transcript");
      const seen = texts(roomB);
      for (const t of ["first customer", "agent A here", "hello? anyone?"]) { assert.ok(seen.includes(t), `B sees "${t}"`); }
      await waitFor(first.room, () => first.room.state.conversation.holder === b.sub && first.room.state.conversation.status === "active", 5_000, "B holds it");
      await waitFor(deskB, () => deskB.state.live.get(`cc-${first.customerId}`)?.agents.join() === b.sub, 5_000, "live lists B only");
      assert.equal(deskB.state.agents.get(b.sub).activeConversations, 1);
    });

    it("the same agent back within the window keeps the conversation, and its console gets it back from the live map", async () => {
      const team = uniqueId("t");
      const a = agentOf(team);
      const deskA = await join(a, "team", { teamId: team });
      const { customerId, room: customer } = await customerAsks(team);
      await waitFor(deskA, () => requests(deskA).length === 1, 5_000, "request queued");
      const roomA = await serve(deskA, a, requests(deskA)[0].id, customerId);
      await waitFor(customer, () => customer.state.conversation?.status === "active", 5_000, "active");
      // a reload: both connections close, and the console signs in again
      await roomA.leave();
      await deskA.leave();
      await sleep(500);
      const deskAgain = await join(a, "team", { teamId: team });
      await waitFor(deskAgain, () => deskAgain.state.live?.size > 0, 5_000, "the live map");
      const mine = [...deskAgain.state.live.values()].filter((l: any) => l.agents.includes(a.sub));
      assert.deepEqual(mine.map((l: any) => l.roomId), [`cc-${customerId}`], "the console finds its open conversation");
      assert.equal(deskAgain.state.agents.get(a.sub).activeConversations, 1);
      const roomAgain = await join(a, "contact_center", { customerId });
      await sleep(1_000);
      await customer.request("send", { id: uniqueId("m"), text: "still there?" });
      await sleep(1_000);
      assert.equal(customer.state.conversation.status, "active");
      assert.equal(customer.state.conversation.holder, a.sub);
      assert.equal(requests(deskAgain).length, 0, "not requeued");
      await roomAgain.request("send", { id: uniqueId("m"), text: "sorry, back" });
    });

    it("a network drop counts as the connection closing: back within the window it keeps the conversation, gone it is requeued though its seat is still kept", async () => {
      const team = uniqueId("t");
      const a = agentOf(team);
      const deskA = await join(a, "team", { teamId: team });
      await deskA.request("status", { status: "away" });
      const { customerId, room: customer } = await customerAsks(team);
      await waitFor(deskA, () => requests(deskA).length === 1, 5_000, "request queued");
      const roomA = await serve(deskA, a, requests(deskA)[0].id, customerId);
      await waitFor(customer, () => customer.state.conversation?.status === "active", 5_000, "active");

      // a short drop: the SDK reconnects, the conversation stays with the agent
      roomA.reconnection.enabled = true;
      roomA.reconnection.minUptime = 0;
      const reconnected = new Promise<void>((resolve) => roomA.onReconnect(() => resolve()));
      roomA.connection.close(CloseCode.MAY_TRY_RECONNECT, "network drop");
      await waitFor(customer, () => customer.state.conversation.status === "on_hold", 5_000, "on hold while it is away");
      await reconnected;
      await waitFor(customer, () => customer.state.conversation.status === "active", 5_000, "active again");
      await sleep(2_000);
      assert.equal(customer.state.conversation.status, "active", "not requeued");
      assert.equal(customer.state.conversation.holder, a.sub);

      // a drop with no return: requeued AGENT_DISCONNECT_MS after the drop, though the
      // server still keeps the seat for RECONNECT_GRACE_SECONDS (30 s)
      roomA.reconnection.enabled = false;
      await customer.request("send", { id: uniqueId("m"), text: "are you still there?" }); // not idle meanwhile
      const dropped = Date.now();
      roomA.connection.close(CloseCode.MAY_TRY_RECONNECT, "network drop");
      await waitFor(customer, () => customer.state.conversation.status === "queued", 10_000, "requeued");
      assert.ok(Date.now() - dropped < 10_000);
      await waitFor(deskA, () => requests(deskA).some((r) => r.kind === "requeue" && r.customerId === customerId), 5_000, "a requeue request");
    });

    it("an offer not accepted within OFFER_TIMEOUT_MS goes to the next agent; the first becomes not_ready (missed_offer)", async () => {
      const team = uniqueId("t");
      const [a, b] = [agentOf(team), agentOf(team)];
      const deskA = await join(a, "team", { teamId: team });
      const deskB = await join(b, "team", { teamId: team });
      const [gotA, gotB] = [offers(deskA), offers(deskB)];
      await customerAsks(team);
      await until(() => gotA.length + gotB.length === 1, 5_000, "first offer");
      const [lapsing, lapsingDesk, nextGot] = gotA.length ? [a, deskA, gotB] : [b, deskB, gotA];
      await until(() => nextGot.length === 1, 8_000, "offered to the next agent");
      await waitFor(lapsingDesk, () => lapsingDesk.state.agents.get(lapsing.sub)?.status === "not_ready", 5_000, "not_ready");
      assert.equal(lapsingDesk.state.agents.get(lapsing.sub).reason, "missed_offer");
      // it stays so until the agent changes status
      await lapsingDesk.request("status", { status: "available" });
      await waitFor(lapsingDesk, () => lapsingDesk.state.agents.get(lapsing.sub)?.status === "available", 5_000, "available again");
      assert.equal(lapsingDesk.state.agents.get(lapsing.sub).reason, "");
      await lapsingDesk.request("status", { status: "not_ready", reason: "training" });
      await waitFor(lapsingDesk, () => lapsingDesk.state.agents.get(lapsing.sub)?.reason === "training", 5_000, "reason kept");
    });

    it("a queued customer waiting past CONVERSATION_IDLE_MS is not ended; past QUEUE_MAX_WAIT_MS it moves to follow-up", async () => {
      const team = uniqueId("t");
      const started = Date.now();
      const { room: customer } = await customerAsks(team);
      const ended: any[] = [];
      customer.onMessage("conversation_ended", (m) => ended.push(m));
      await waitFor(customer, () => customer.state.conversation?.status === "queued", 5_000, "queued");
      await sleep(Math.max(0, started + 4_500 - Date.now()));
      assert.deepEqual(ended, [], "not ended as idle while it waits");
      assert.equal(customer.state.conversation.status, "queued");
      await waitFor(customer, () => customer.state.conversation.followUp === true, 10_000, "follow-up");
      assert.ok(Date.now() - started >= 6_000, "not before QUEUE_MAX_WAIT_MS");
      await waitFor(customer, () => texts(customer).some((t) => /agent will answer here/.test(t)), 5_000, "the customer is told");
      assert.equal((await rejection(customer.request("follow_up", { email: "not an email" }))).code, "invalid_payload");
      await customer.request("follow_up", { email: "ann@example.com" });
      // kept in the queue, flagged
      const deskS = await join(agentOf(team, "supervisor"), "team", { teamId: team });
      await waitFor(deskS, () => requests(deskS).some((r) => r.roomId === customer.state.roomId), 5_000, "the request on the desk");
      const request = requests(deskS).find((r) => r.roomId === customer.state.roomId);
      assert.equal(request?.followUp, true);
      assert.deepEqual(ended, []);
    });

    it("after an end, the next message is routed through the queue, never straight to the old agent's tab; the agent may only `start` on purpose", async () => {
      const team = uniqueId("t");
      const a = agentOf(team);
      const deskA = await join(a, "team", { teamId: team });
      const { customerId, room: customer } = await customerAsks(team);
      await waitFor(deskA, () => requests(deskA).length === 1, 5_000, "request queued");
      const roomA = await serve(deskA, a, requests(deskA)[0].id, customerId);
      await roomA.request("send", { id: uniqueId("m"), text: "resolved?" });
      const firstId = customer.state.conversation.id;
      await roomA.request("end", { reason: "resolved" });
      await waitFor(customer, () => customer.state.conversation?.status === "ended", 5_000, "ended, kept in the state");
      assert.equal(customer.state.conversation.endReason, "resolved");
      assert.ok(customer.state.conversation.endedAt > 0);
      await deskA.request("status", { status: "away" });

      // the agent's tab is still open, but it may not write into the ended room
      assert.equal((await rejection(roomA.request("send", { id: uniqueId("m"), text: "one more thing" }))).code, "no_active_conversation");
      // the customer's next message starts a new conversation, queued, without the old agent
      await customer.request("send", { id: uniqueId("m"), text: "another question" });
      await waitFor(customer, () => customer.state.conversation?.id !== firstId && customer.state.conversation?.status === "queued", 5_000, "new conversation queued");
      assert.deepEqual([...customer.state.conversation.participants.keys()], [customerId]);
      await waitFor(deskA, () => requests(deskA).some((r) => r.roomId === `cc-${customerId}`), 5_000, "a new request");

      // an outbound follow-up, on purpose
      const customer2 = (await customerAsks(team)).customerId;
      const desk = deskA;
      await waitFor(desk, () => requests(desk).some((r) => r.customerId === customer2), 5_000, "queued");
      const room2 = await serve(desk, a, requests(desk).find((r) => r.customerId === customer2).id, customer2);
      await room2.request("end", {});
      await waitFor(room2, () => room2.state.conversation?.status === "ended", 5_000, "ended");
      assert.equal((await rejection(room2.request("send", { id: uniqueId("m"), text: "hi" }))).code, "no_active_conversation");
      await room2.request("start", {});
      await waitFor(room2, () => room2.state.conversation?.status === "active", 5_000, "started by the agent");
      assert.equal(room2.state.conversation.holder, a.sub);
      await room2.request("send", { id: uniqueId("m"), text: "following up on your order" });
    });

    it("after an end, the next message goes to the team's bot first where configured, not to the agent's open tab", async () => {
      const team = "deskbots";
      const bot = agentOf(team, "bot");
      const botDesk = await join(bot, "team", { teamId: team });
      const botOffers = offers(botDesk);
      const { customerId, room: customer } = await customerAsks(team);
      await until(() => botOffers.some((r) => r.customerId === customerId), 5_000, "the bot's offer");
      const first = botOffers.find((r) => r.customerId === customerId);
      assert.equal(first.forBot, true);
      const botRoom = await serve(botDesk, bot, first.id, customerId);
      await waitFor(customer, () => customer.state.conversation?.status === "bot" && customer.state.conversation.holder === bot.sub, 5_000, "held by the bot");
      await botRoom.request("send", { id: uniqueId("m"), text: "I am the bot" });
      const agent = agentOf(team);
      const agentRoom = await join(agent, "contact_center", { customerId });
      await waitFor(customer, () => customer.state.conversation?.holder === agent.sub && customer.state.conversation.status === "active", 5_000, "a human takes over");
      await agentRoom.request("end", { reason: "resolved" });
      await waitFor(customer, () => customer.state.conversation?.status === "ended", 5_000, "ended");
      await customer.request("send", { id: uniqueId("m"), text: "me again" });
      await until(() => botOffers.filter((r) => r.customerId === customerId).length === 2, 5_000, "offered to the bot again");
      assert.equal(botOffers.filter((r) => r.customerId === customerId)[1].forBot, true);
      await waitFor(customer, () => customer.state.conversation?.status === "queued", 5_000, "queued for the bot");
      assert.deepEqual([...customer.state.conversation.participants.keys()], [customerId], "neither the agent's nor the bot's open tab takes part");
    });

    it("queue position and estimated wait are pushed to each waiting customer as the queue moves", async () => {
      const team = uniqueId("t");
      const a = agentOf(team);
      const c1 = await customerAsks(team);
      const c2 = await customerAsks(team);
      const c3 = await customerAsks(team);
      await waitFor(c3.room, () => c3.room.state.conversation?.queuePosition === 3, 5_000, "third");
      assert.equal(c1.room.state.conversation.queuePosition, 1);
      assert.equal(c2.room.state.conversation.queuePosition, 2);
      assert.equal(c1.room.state.conversation.estimatedWaitMs, -1, "no accepts yet: unknown");
      // the gauges come from the process that runs the team's actor (loopback scrapes need no token)
      const scrapes = await Promise.all(setup.urls().map(async (u) => (await fetch(`${u}/metrics`)).text()));
      const gauge = (name: string) => scrapes.map((body) => body.match(new RegExp(`^${name}\\{team="${team}"\\} (\\S+)$`, "m"))?.[1]).find(Boolean);
      assert.equal(gauge("cc_queue_depth"), "3");
      assert.ok(Number(gauge("cc_queue_oldest_wait_seconds")) > 0);
      const deskA = await join(a, "team", { teamId: team });
      await deskA.request("status", { status: "away" });
      const r1 = requests(deskA).find((r) => r.customerId === c1.customerId);
      await serve(deskA, a, r1.id, c1.customerId);
      await waitFor(c1.room, () => c1.room.state.conversation.queuePosition === 0 && c1.room.state.conversation.status === "active", 5_000, "c1 served");
      await waitFor(c2.room, () => c2.room.state.conversation.queuePosition === 1, 5_000, "c2 moves up");
      await waitFor(c3.room, () => c3.room.state.conversation.queuePosition === 2, 5_000, "c3 moves up");
      await waitFor(c3.room, () => c3.room.state.conversation.estimatedWaitMs > 0, 5_000, "an estimate from the accept");
      assert.ok(c3.room.state.conversation.estimatedWaitMs >= c2.room.state.conversation.estimatedWaitMs);
    });

    it("a team actor killed (its process, kill -9) and restarted keeps its live conversations and agent counts", async () => {
      const team = uniqueId("t");
      const a = agentOf(team);
      const deskA = await join(a, "team", { teamId: team });
      const { customerId } = await customerAsks(team);
      await waitFor(deskA, () => requests(deskA).length === 1, 5_000, "request queued");
      const roomA = await serve(deskA, a, requests(deskA)[0].id, customerId);
      await roomA.request("send", { id: uniqueId("m"), text: "on it" });
      await waitFor(deskA, () => deskA.state.agents.get(a.sub)?.activeConversations === 1, 5_000, "counted");
      // a second customer waits in the queue
      const waiting = await customerAsks(team, "waiting");
      await waitFor(waiting.room, () => waiting.room.state.conversation?.queuePosition === 1, 5_000, "first in the queue");
      await sleep(300);
      await setup.killTeamActor(team);
      open.splice(0);
      const deskAgain = await joinRetrying(a, "team", { teamId: team });
      // generous: in the cluster variant the customer rooms died with the process too, and
      // on a loaded 2-core machine their move (detection + lease expiry) takes seconds
      await waitFor(deskAgain, () => !!deskAgain.state.live?.get(`cc-${customerId}`)?.agents.includes(a.sub), 15_000, "live conversation back");
      await waitFor(deskAgain, () => deskAgain.state.agents?.get(a.sub)?.activeConversations === 1, 15_000, "count back");
      await waitFor(deskAgain, () => requests(deskAgain).some((r) => r.customerId === waiting.customerId), 5_000, "the queue back");
      // the waiting customer comes back (its room's actor may have died too) and still has its place
      const back = await joinRetrying({ sub: waiting.customerId, role: "customer" }, "contact_center", { channel: { type: "web" }, teamId: team });
      await waitFor(back, () => back.state.conversation?.status === "queued" && back.state.conversation.queuePosition === 1, 8_000, "its place again");
    });

    it("a team actor killed and restarted keeps its agents' statuses: away, not_ready (missed_offer) and available come back as they were", async () => {
      const team = uniqueId("t");
      const [away, lapsing, free] = [agentOf(team), agentOf(team), agentOf(team)];
      const deskAway = await join(away, "team", { teamId: team });
      await deskAway.request("status", { status: "away" });
      const deskLapsing = await join(lapsing, "team", { teamId: team });
      const got = offers(deskLapsing);
      await customerAsks(team);
      await until(() => got.length === 1, 5_000, "the one available agent is offered the request");
      await waitFor(deskLapsing, () => deskLapsing.state.agents.get(lapsing.sub)?.reason === "missed_offer", 8_000, "missed_offer");
      // joins after the lapse and takes the request at once: it stays available, and no offer is left to lapse
      const deskFree = await join(free, "team", { teamId: team });
      const gotFree = offers(deskFree);
      await until(() => gotFree.length === 1, 5_000, "offered to the agent who joined");
      await deskFree.request("accept", { requestId: gotFree[0].id });
      await sleep(300);
      await setup.killTeamActor(team);
      open.splice(0);
      const status = (desk: Room<any>, userId: string) => {
        const agent = desk.state.agents?.get(userId);
        return agent ? `${agent.status}/${agent.reason}` : "absent";
      };
      const again = await joinRetrying(away, "team", { teamId: team });
      await joinRetrying(lapsing, "team", { teamId: team });
      await joinRetrying(free, "team", { teamId: team });
      await waitFor(again, () => status(again, free.sub) !== "absent" && status(again, lapsing.sub) !== "absent", 5_000, "all three back");
      assert.deepEqual([status(again, away.sub), status(again, lapsing.sub), status(again, free.sub)],
        ["away/", "not_ready/missed_offer", "available/"]);
    });

    async function joinRetrying(who: Who, name: string, options: Record<string, unknown>) {
      const deadline = Date.now() + 20_000;
      for (;;) {
        try { return await join(who, name, options); } catch (e) {
          if (Date.now() > deadline) { throw e; }
          await sleep(250);
        }
      }
    }
  });
}
