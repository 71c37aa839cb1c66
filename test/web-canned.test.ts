import assert from "node:assert/strict";
import { ChatConnection, ChatError } from "../client";
import { signToken } from "../server/auth";
import { startServerProcess, TEST_SECRET, uniqueId, type ServerProcess } from "./helpers/server";

const code = (p: Promise<unknown>) => p.then(() => "ok", (e: ChatError) => e.code);

/** A team's canned replies: read by its members, kept by its supervisors and by applications over HTTP. */
describe("web: canned replies per team (canned, canned_set, /api/teams/:teamId/canned)", function () {
  this.timeout(60_000);
  let server: ServerProcess;
  before(async () => { server = await startServerProcess(); });
  after(async () => { await server?.stop(); });
  const token = (sub: string, role: string, teams: string[]) => signToken(TEST_SECRET, { sub, role: role as any, name: sub, teams });
  const desk = async (role: string, teamId: string) => ChatConnection.join({
    urls: [server.url], token: await token(uniqueId(role), role, [teamId]), room: "team", options: { teamId },
  });

  it("supervisors replace the list, agents read it; validated like every request", async () => {
    const teamId = uniqueId("team");
    const sup = await desk("supervisor", teamId);
    const agent = await desk("agent", teamId);
    assert.deepEqual(await agent.request("canned", {}), { replies: [] });
    const replies = [{ shortcut: "hello", text: "Hello {{customer.name}}" }, { shortcut: "bye", text: "  Bye\u0000 " }];
    const saved = await sup.request("canned_set", { replies });
    assert.deepEqual(saved.replies, [replies[0], { shortcut: "bye", text: "  Bye " }], "texts are normalised like every stored text");
    assert.deepEqual((await agent.request("canned", {})).replies, saved.replies);
    assert.equal(await code(agent.request("canned_set", { replies: [] })), "forbidden");
    assert.equal(await code(sup.request("canned_set", { replies: [{ shortcut: "a b", text: "x" }] })), "invalid_payload");
    assert.equal(await code(sup.request("canned_set", { replies: [{ shortcut: "a", text: "x" }, { shortcut: "A", text: "y" }] })), "invalid_payload");
    assert.equal(await code(sup.request("canned_set", { replies: [{ shortcut: "a", text: " " }] })), "invalid_payload");
    assert.equal(await code(sup.request("canned_set", { replies: Array.from({ length: 101 }, (_, i) => ({ shortcut: `s${i}`, text: "x" })) })), "invalid_payload");
    const other = await desk("agent", uniqueId("team"));
    assert.deepEqual(await other.request("canned", {}), { replies: [] }, "per team");
    await Promise.all([sup.leave(), agent.leave(), other.leave()]);
  });

  it("applications read and replace a team's list over HTTP; others may not", async () => {
    const teamId = uniqueId("team");
    const url = `${server.url}/api/teams/${teamId}/canned`;
    const app = await token("crm", "app", []);
    const put = (auth: string, body: unknown) => fetch(url, { method: "PUT", headers: { authorization: `Bearer ${auth}`, "content-type": "application/json" }, body: JSON.stringify(body) });
    assert.equal((await put(app, { replies: [{ shortcut: "thanks", text: "Thank you, {{customer.name}}!" }] })).status, 200);
    const got = await (await fetch(url, { headers: { authorization: `Bearer ${app}` } })).json() as any;
    assert.deepEqual(got, { replies: [{ shortcut: "thanks", text: "Thank you, {{customer.name}}!" }] });
    const agent = await desk("agent", teamId);
    assert.deepEqual((await agent.request("canned", {})).replies, got.replies, "the team room sees what the app stored");
    assert.equal((await put(await token("sup", "supervisor", [teamId]), { replies: [] })).status, 403);
    assert.equal((await put(app, { replies: [{ shortcut: "", text: "x" }] })).status, 400);
    assert.equal((await fetch(`${server.url}/api/teams/bad%20team/canned`, { headers: { authorization: `Bearer ${app}` } })).status, 400);
    assert.equal((await fetch(url)).status, 401);
    await agent.leave();
  });
});
