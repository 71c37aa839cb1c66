/**
 * A sample bot on the project's client library (client/, over @colyseus/sdk): it sits
 * in its team's room, takes the requests the team offers to bots (BOT_TEAMS on the
 * server), greets the customer, answers, and hands over to a human agent when the
 * customer asks for one.
 *
 *   SERVER_URL=http://localhost:2567 TEAM=support BOT_TOKEN=<jwt, role bot> npx tsx examples/bot.ts
 *
 * In development, AUTH_SECRET (or the server's development secret) lets it sign its
 * own token instead of BOT_TOKEN (lifetime BOT_TOKEN_SECONDS, default 3600; with the
 * server's AUTH_ISSUER / AUTH_AUDIENCE). A connection lives no longer than its token:
 * a bot that signs its own tokens gives the library a getToken(), which answers
 * `token_expiring` with `refresh`; one given a BOT_TOKEN cannot, so when the server
 * closes the team room at the token's exp (4003) it exits with status 3, to be
 * restarted with a fresh token. A node that dies or stops is the library's business:
 * it rejoins elsewhere and delivers what was missed, once.
 */
import { ChatConnection } from "../client";
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

const getToken = process.env.BOT_TOKEN ? undefined : token;

function logToken(chat: ChatConnection<any>) {
  chat.on("token_refreshed", ({ exp }) => console.log(`bot refreshed its token in ${chat.roomId} (exp ${exp})`));
  chat.on("error", (e) => console.log(e.type === "refresh" ? `bot could not refresh its token: ${e.code} ${e.message}` : `bot: ${e.type ?? "a message"} failed: ${e.code} ${e.message}`));
}

async function serve(customerId: string) {
  const chat = await ChatConnection.join({ urls: [SERVER_URL], token: await token(), getToken, room: "contact_center", options: { customerId } });
  console.log(`bot joined ${chat.roomId}`);
  logToken(chat);
  let handedOver = false;
  const say = (text: string) => chat.send(text).catch((e) => console.log(`bot could not say "${text.slice(0, 20)}…": ${e.code}`));
  // first in the outbox, so it is stored before any answer
  void say("Hello! I am the help bot. Ask me anything, or type 'agent' to talk to a person.");
  // every customer message of the conversation, those before the bot came in too, once
  chat.on("message", async (m) => {
    if (m.senderRole !== "customer" || handedOver) { return; }
    if (HANDOVER.test(m.text)) {
      handedOver = true;
      await chat.handover("customer asked for a person").catch((e) => console.log(`bot could not hand over: ${e.code}`));
      await say("I am getting you a person; one moment please.");
      await chat.leave();
      return;
    }
    void say(`You said "${m.text}". Our opening hours are 8-20, Monday to Saturday.`);
  });
  chat.on("conversation_ended", () => { void chat.leave(); });
}

async function main() {
  const desk = await ChatConnection.join({ urls: [SERVER_URL], token: await token(), getToken, room: "team", options: { teamId: TEAM } });
  console.log(`bot ${BOT_ID} is in team-${TEAM}`);
  logToken(desk);
  desk.on("closed", ({ code, error }) => {
    if (code === 4003) { console.log("bot's token expired: restart it with a fresh BOT_TOKEN"); process.exit(3); }
    console.log(`bot left its team room: ${error?.code ?? code}`);
  });
  desk.on("offer", async (request) => {
    if (!request.forBot) { return; }
    try {
      const accepted = await desk.accept(request.id);
      console.log(`bot accepted ${request.id} for ${accepted.roomId}`);
      await serve(accepted.customerId);
    } catch (e: any) {
      console.log(`bot could not take ${request.id}: ${e.code ?? e.message}`);
    }
  });
  const stop = () => { void desk.leave().finally(() => process.exit(0)); };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}

main().catch((e) => { console.error(e); process.exit(1); });
