import assert from "node:assert/strict";
import { pickAgent, type RoutableAgent } from "../desk/routing";

const agent = (userId: string, over: Partial<RoutableAgent> = {}): RoutableAgent => ({
  userId, role: "agent", status: "available", connected: true, activeConversations: 0, maxConversations: 5, ...over,
});
const anyone = { targetUserId: "", forBot: false };

describe("routing: pickAgent (pure)", () => {
  it("offers to the available agent with the fewest active conversations, ties by user id", () => {
    const agents = [agent("b", { activeConversations: 1 }), agent("c", { activeConversations: 0 }), agent("a", { activeConversations: 0 })];
    assert.equal(pickAgent(anyone, agents)?.userId, "a");
    assert.equal(pickAgent(anyone, [agents[0], agents[1]])?.userId, "c");
  });

  it("skips the disconnected, the busy or away, and those at their maximum", () => {
    const agents = [
      agent("a", { connected: false }), agent("b", { status: "busy" }), agent("c", { status: "away" }),
      agent("d", { activeConversations: 2, maxConversations: 2 }), agent("e", { activeConversations: 4 }),
    ];
    assert.equal(pickAgent(anyone, agents)?.userId, "e");
    assert.equal(pickAgent(anyone, agents.slice(0, 4)), null);
  });

  it("a named request goes to its target only, whatever its load or role", () => {
    const agents = [agent("a"), agent("sup", { role: "supervisor", activeConversations: 3 })];
    assert.equal(pickAgent({ targetUserId: "sup", forBot: false }, agents)?.userId, "sup");
    assert.equal(pickAgent({ targetUserId: "nobody", forBot: false }, agents), null);
  });

  it("a request for a bot goes to bots only; others go to agents, never supervisors or bots", () => {
    const agents = [agent("bot-1", { role: "bot" }), agent("sup", { role: "supervisor" }), agent("z", { activeConversations: 4 })];
    assert.equal(pickAgent({ targetUserId: "", forBot: true }, agents)?.userId, "bot-1");
    assert.equal(pickAgent(anyone, agents)?.userId, "z");
    assert.equal(pickAgent({ targetUserId: "", forBot: true }, [agent("a")]), null);
  });

  it("no agents: nobody", () => {
    assert.equal(pickAgent(anyone, []), null);
  });
});
