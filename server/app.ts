import { LocalPresence, matchMaker, Server, type Presence } from "@colyseus/core";
import { WebSocketTransport } from "@colyseus/ws-transport";
import { AtomicRedisDriver, KeyedLocalDriver, selectProcessForRoom } from "./matchmaking";
import { RedisPresence } from "@colyseus/redis-presence";
import type express from "express";
import Redis from "ioredis";
import { ContactCenterRoom, PrivateRoom, resumeOptions } from "../rooms/ChatRoom";
import { TeamRoom } from "../rooms/TeamRoom";
import { TokenVerifier } from "./auth";
import type { Config } from "./config";
import { installServices } from "./context";
import { logger } from "./logger";
import { registry } from "./metrics";
import { IdleSweeper } from "./sweeper";
import { mountWeb } from "./web";
import { mountAppApi } from "./appApi";
import { createAgentRooms } from "./agentRooms";
import { createWebhooks } from "./webhooks";
import { createStore, describeStore } from "./store";
import type { RoomStore } from "./store/types";

export interface RunningServer {
  server: Server;
  store: RoomStore;
  stop(): Promise<void>;
}

/**
 * Builds and starts one node: embedded (local presence, local matchmaking, memory
 * store) without REDIS_URL, or a Redis-backed node that can join a cluster.
 */
export async function startServer(config: Config): Promise<RunningServer> {
  let store: RoomStore;
  let presence: Presence | undefined;
  let driver: AtomicRedisDriver | KeyedLocalDriver;
  let redis: Redis | undefined;

  if (config.redisUrl) {
    // Each Redis package gets its own connection: presence needs a subscriber, and
    // the ioredis 5 instances must come from the same major they bundle.
    // No offline queue: while Redis is down a request fails at once with
    // `unavailable` (and the client retries with the same id) instead of hanging.
    redis = new Redis(config.redisUrl, { maxRetriesPerRequest: 1, enableOfflineQueue: false, lazyConnect: true });
    redis.on("error", (err) => logger.warn({ err: err.message }, "redis store connection error"));
    await redis.connect();
    presence = new RedisPresence(config.redisUrl);
    driver = new AtomicRedisDriver(config.redisUrl);
    logger.info({ mode: "redis", publicAddress: config.publicAddress }, "starting a Redis-backed node");
  } else {
    presence = new LocalPresence();
    driver = new KeyedLocalDriver();
    logger.info({ mode: "embedded" }, "starting one embedded node: local presence, local matchmaking (set REDIS_URL for Redis)");
  }
  // DATABASE_URL chooses the store (docs/storage.md)
  store = await createStore(config, redis);
  logger.info({ store: describeStore(config.databaseUrl) }, "store open");

  const webhooks = createWebhooks(config, store); // webhooks: outbox in the store, see server/webhooks.ts
  installServices({ config, store, verifier: new TokenVerifier(config.authSecret), webhooks, agentRooms: createAgentRooms(redis) });

  const server = new Server({
    greet: false,
    gracefullyShutdown: false,
    publicAddress: config.publicAddress,
    presence,
    driver,
    selectProcessIdToCreateRoom: selectProcessForRoom,
    transport: new WebSocketTransport({ maxPayload: config.maxPayloadBytes }),
    express: (app: express.Application) => {
      app.get("/health", async (_req, res) => {
        const redisState = redis ? redis.status : "embedded";
        const ok = (!redis || redis.status === "ready") && matchMaker.state === matchMaker.MatchMakerState.READY;
        res.status(ok ? 200 : 503).json({ status: ok ? "ok" : "unavailable", redis: redisState, matchmaker: matchMaker.state });
      });
      app.get("/metrics", async (_req, res) => {
        res.set("Content-Type", registry.contentType).send(await registry.metrics());
      });
      mountAppApi(app, config);
      mountWeb(app, config);
    },
  });

  server.define("contact_center", ContactCenterRoom).filterBy(["roomKey"]);
  server.define("private", PrivateRoom).filterBy(["roomKey"]);
  server.define("team", TeamRoom).filterBy(["roomKey"]);

  await server.listen(config.port);
  const sweeper = new IdleSweeper(store, config.sweepIntervalMs, resumeOptions);
  sweeper.start();
  logger.info({ port: config.port, publicAddress: config.publicAddress }, "listening");

  return {
    server,
    store,
    async stop() {
      sweeper.stop();
      // what the actors emitted while flushing gets its chance to go out
      await Promise.race([webhooks.drain(), new Promise((r) => setTimeout(r, 3_000))]);
      await server.gracefullyShutdown(false);
      await store.close();
      redis?.disconnect();
    },
  };
}

