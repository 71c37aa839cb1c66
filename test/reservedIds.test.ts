import assert from "node:assert/strict";
import type { Room } from "@colyseus/sdk";
import { signToken } from "../server/auth";
import { flushTestDb, REDIS_TEST_URL } from "./helpers/redis";
import { clientFor, startServerProcess, TEST_SECRET, uniqueId, waitFor, type ServerProcess } from "./helpers/server";

/**
 * User ids that equal built-in object property names. All match the id pattern,
 * and with @colyseus/schema 5.0.34 each one, used as a key of a replicated map
 * (participants, a team's agents), crashed the whole process at the next patch
 * (docs/security.md, "Reserved names as map keys").
 */
const NAMES = [
  "constructor", "__proto__", "toString", "valueOf", "hasOwnProperty", "isPrototypeOf",
  "propertyIsEnumerable", "toLocaleString", "__defineGetter__", "__lookupSetter__",
];

for (const mode of ["embedded", "redis"] as const) {
  describe(`user ids named like object internals (${mode} node)`, function () {
    this.timeout(60_000);
    let server: ServerProcess;
    const rooms: Room<any>[] = [];

    before(async () => {
      const env: Record<string, string> = {};
      if (mode === "redis") { await flushTestDb(); env.REDIS_URL = REDIS_TEST_URL; }
      server = await startServerProcess(env);
    });
    afterEach(async () => { await Promise.all(rooms.splice(0).map((r) => r.connection.isOpen ? r.leave().catch(() => {}) : undefined)); });
    after(async () => { await server?.stop(); });

    const join = async (room: Promise<Room<any>>) => { const r = await room; rooms.push(r); return r; };
    const alive = async () => {
      assert.equal(server.child.exitCode, null, `the server process exited:\n${server.output().slice(-2_000)}`);
      assert.equal((await fetch(`${server.url}/health`)).status, 200);
    };

    for (const name of NAMES) {
      it(`"${name}" as a customer, an agent, a team member and an app: every message delivered, the process lives`, async () => {
        // the customer named `name`, served by an ordinary agent
        const customer = await join((await clientFor(server.url, { sub: name, role: "customer" })).joinOrCreate("contact_center", { channel: { type: "web" } }));
        const helper = await join((await clientFor(server.url, { sub: uniqueId("agent"), role: "agent", teams: ["support"] })).joinOrCreate("contact_center", { customerId: name }));
        const first = await customer.request("send", { id: uniqueId("m"), text: `hello from ${name}` });
        await helper.request("send", { id: uniqueId("m"), text: "hello back" });
        await waitFor(customer, () => customer.state.conversation?.messages.length >= 2, 5_000, "both messages at the customer");
        assert.equal(customer.state.conversation.participants.get(name)?.userId, name);

        // the agent named `name`, in its team room and in an ordinary customer's room
        const otherId = uniqueId("cust");
        const other = await join((await clientFor(server.url, { sub: otherId, role: "customer" })).joinOrCreate("contact_center", {}));
        const staff = await clientFor(server.url, { sub: name, role: "agent", teams: ["support"] });
        const team = await join(staff.joinOrCreate("team", { teamId: "support" }));
        await other.request("send", { id: uniqueId("m"), text: "anyone there?" });
        const agentRoom = await join(staff.joinOrCreate("contact_center", { customerId: otherId }));
        await agentRoom.request("send", { id: uniqueId("m"), text: `this is ${name}` });
        await waitFor(team, () => team.state.agents.get(name)?.userId === name, 5_000, "the agent in its team's state");
        await waitFor(other, () => other.state.conversation?.participants.get(name)?.role === "agent", 5_000, "the agent among the participants");

        // the application named `name`, posting through the HTTP API
        const appToken = await signToken(TEST_SECRET, { sub: name, role: "app" });
        const res = await fetch(`${server.url}/api/rooms/cc-${otherId}/messages`, {
          method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${appToken}` },
          body: JSON.stringify({ id: uniqueId("app"), text: "from the app" }),
        });
        assert.equal(res.status, 200, await res.text());
        await waitFor(other, () => [...other.state.conversation.messages].some((m: any) => m.senderId === name && m.senderRole === "app"), 5_000, "the app's message");

        // a later patch (typing, reads) goes out too, and the process is still there
        await customer.request("read", first);
        await customer.request("typing", { typing: true });
        await waitFor(helper, () => helper.state.conversation?.participants.get(name)?.typing === true, 5_000, "typing from the customer");
        await alive();
      });
    }

    it("a stored conversation with such participants resumes on a new actor", async () => {
      const name = "constructor";
      const customer = await (await clientFor(server.url, { sub: name, role: "customer" })).joinOrCreate("contact_center", {});
      await customer.request("send", { id: uniqueId("m"), text: "before the actor goes" });
      await customer.leave();
      // the actor stays while the conversation is active; a new client joins the same actor,
      // and on Redis a restart of the node resumes it from the store
      const again = await join((await clientFor(server.url, { sub: name, role: "customer" })).joinOrCreate("contact_center", {}));
      await waitFor(again, () => again.state.conversation?.participants.get(name)?.connected === true, 5_000, "the participant back");
      await alive();
      if (mode === "redis") {
        await again.leave();
        await server.kill();
        server = await startServerProcess({ REDIS_URL: REDIS_TEST_URL });
        const resumed = await join((await clientFor(server.url, { sub: name, role: "customer" })).joinOrCreate("contact_center", {}));
        await waitFor(resumed, () => resumed.state.conversation?.participants.get(name)?.connected === true, 5_000, "resumed with the participant");
        await resumed.request("send", { id: uniqueId("m"), text: "after the restart" });
        await alive();
      }
    });
  });
}
