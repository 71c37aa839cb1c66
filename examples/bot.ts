/**
 * A sample bot on @colyseus/sdk: it sits in its team's room, takes the requests the
 * team offers to bots (BOT_TEAMS on the server), greets the customer, answers, and
 * hands over to a human agent when the customer asks for one.
 *
 *   SERVER_URL=http://localhost:2567 TEAM=support BOT_TOKEN=<jwt, role bot> npx tsx examples/bot.ts
 *
 * In development, AUTH_SECRET (or the server's development secret) lets it sign its
 * own token instead of BOT_TOKEN (lifetime BOT_TOKEN_SECONDS, default 3600; with the
 * server's AUTH_ISSUER / AUTH_AUDIENCE). A connection lives no longer than its token:
 * warned by `token_expiring`, a bot that signs its own tokens sends `refresh` with a
 * new one; one given a BOT_TOKEN cannot, so when the server closes the team room at
 * the token's exp (4003) it exits with status 3, to be restarted with a fresh token.
 */
import { Client, type Room } from "@colyseus/sdk";
import { signToken } from "../server/auth";
import { loadConfig } from "../server/config";

const SERVER_URL = process.env.SERVER_URL ?? "http://localhost:2567";
const TEAM = process.env.TEAM ?? "support";
const BOT_ID = process.env.BOT_ID ?? "helpbot";
const HANDOVER = /\b(agent|human|person)\b/i;

const TOKEN_SECONDS = Number(process.env.BOT_TOKEN_SECONDS ?? 3600);

async function token(): Promise<string> {
  if (process.env.BOT_TOKEN) { return process.env.BOT_TOKEN; }
  const config = loadConfig();
  return signToken(config.authSecret, { sub: BOT_ID, role: "bot", name: "Help Bot", teams: [TEAM] }, Math.floor(Date.now() / 1000) + TOKEN_SECONDS, config);
}

/** Refreshes the connection's token when the server warns that it runs out (own tokens only). */
function keepToken(client: Client, room: Room<any>) {
  room.onMessage("token_expiring", async () => {
    if (process.env.BOT_TOKEN) { return; }
    client.auth.token = await token(); // later joins use it too
    await room.request("refresh", { token: client.auth.token })
      .then(({ exp }: { exp: number }) => console.log(`bot refreshed its token in ${room.roomId} (exp ${exp})`))
      .catch((e: any) => console.log(`bot could not refresh its token: ${JSON.stringify(e.reason ?? e.message)}`));
  });
}

async function serve(client: Client, customerId: string) {
  const room: Room<any> = await client.joinOrCreate("contact_center", { customerId });
  console.log(`bot joined ${room.roomId}`);
  keepToken(client, room);
  // answers every customer message of the conversation, those before it came in too
  let answered = 0;
  let handedOver = false;
  const say = (text: string) => room.request("send", { id: `bot-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`, text });
  const onState = async (state: any) => {
    for (const m of [...(state.conversation?.messages ?? [])]) {
      if (m.seq <= answered || m.senderRole !== "customer" || handedOver) { continue; }
      answered = m.seq;
      if (HANDOVER.test(m.text)) {
        handedOver = true;
        await room.request("handover", { reason: "customer asked for a person" });
        await say("I am getting you a person; one moment please.");
        await room.leave();
        return;
      }
      await say(`You said "${m.text}". Our opening hours are 8-20, Monday to Saturday.`);
    }
  };
  room.onStateChange(onState);
  await say("Hello! I am the help bot. Ask me anything, or type 'agent' to talk to a person.")
    .catch((e: any) => console.log(`bot could not greet: ${JSON.stringify(e.reason ?? e.message)}`));
  // what the customer wrote before the bot came in
  await onState(room.state);
  room.onMessage("conversation_ended", () => { void room.leave(); });
}

async function main() {
  const client = new Client(SERVER_URL);
  client.auth.token = await token();
  const desk = await client.joinOrCreate("team", { teamId: TEAM });
  console.log(`bot ${BOT_ID} is in team-${TEAM}`);
  keepToken(client, desk);
  desk.onLeave((code: number) => {
    if (code === 4003) { console.log("bot's token expired: restart it with a fresh BOT_TOKEN"); process.exit(3); }
  });
  desk.onMessage("offer", async (request: any) => {
    if (!request.forBot) { return; }
    try {
      const accepted = await desk.request("accept", { requestId: request.id });
      console.log(`bot accepted ${request.id} for ${accepted.roomId}`);
      await serve(client, accepted.customerId);
    } catch (e: any) {
      console.log(`bot could not take ${request.id}: ${e.reason?.code ?? e.message}`);
    }
  });
  const stop = () => { void desk.leave().finally(() => process.exit(0)); };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}

main().catch((e) => { console.error(e); process.exit(1); });
