import { LocalPresence, matchMaker, Server, type Presence } from "@colyseus/core";
import { WebSocketTransport } from "@colyseus/ws-transport";
import { AtomicRedisDriver, KeyedLocalDriver, selectProcessForRoom } from "./matchmaking";
import { RedisPresence } from "@colyseus/redis-presence";
import type express from "express";
import Redis from "ioredis";
import { ContactCenterRoom, PrivateRoom, resumeOptions } from "../rooms/ChatRoom";
import { TeamRoom } from "../rooms/TeamRoom";
import { verifierFor } from "./auth";
import type { Config } from "./config";
import { installServices } from "./context";
import { logger } from "./logger";
import { colyseusLogger } from "./http/colyseusLogger";
import { installHttpFront, jsonErrors, jsonNotFound } from "./http/front";
import { mountMetrics, startMetricsServer } from "./http/metricsAccess";
import { IdleSweeper } from "./sweeper";
import { mountWeb } from "./web";
import { mountAppApi } from "./appApi";
import { createAgentRooms } from "./agentRooms";
import { createWebhooks } from "./webhooks";
import { createStore, describeStore } from "./store";
import { RetentionJob } from "./retention";
import { mountRecordsApi } from "./records/api";
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
  installServices({ config, store, verifier: verifierFor(config), webhooks, agentRooms: createAgentRooms(redis) });

  const transport = new WebSocketTransport({ maxPayload: config.maxPayloadBytes });
  const metricsPolicy = { token: config.metricsToken, port: config.metricsPort };
  const server = new Server({
    logger: colyseusLogger,
    greet: false,
    gracefullyShutdown: false,
    publicAddress: config.publicAddress,
    presence,
    driver,
    selectProcessIdToCreateRoom: selectProcessForRoom,
    transport,
    express: (app: express.Application) => {
      app.disable("x-powered-by");
      app.get("/health", async (_req, res) => {
        const redisState = redis ? redis.status : "embedded";
        const ok = (!redis || redis.status === "ready") && matchMaker.state === matchMaker.MatchMakerState.READY;
        res.status(ok ? 200 : 503).json({ status: ok ? "ok" : "unavailable", redis: redisState, matchmaker: matchMaker.state });
      });
      mountMetrics(app, metricsPolicy);
      mountAppApi(app, config);
      mountRecordsApi(app, config); // erasure, export, search, audit: server/records/
      mountWeb(app, config);
      app.use(jsonNotFound(), jsonErrors());
    },
  });

  server.define("contact_center", ContactCenterRoom).filterBy(["roomKey"]);
  server.define("private", PrivateRoom).filterBy(["roomKey"]);
  server.define("team", TeamRoom).filterBy(["roomKey"]);

  await server.listen(config.port);
  installHttpFront(transport.server!, { bodyMaxBytes: config.httpBodyMaxBytes, apiBodyMaxBytes: config.maxRequestBytes, corsOrigins: config.corsOrigins, publicAddress: config.publicAddress });
  const metricsServer = await startMetricsServer(metricsPolicy);
  const sweeper = new IdleSweeper(store, config.sweepIntervalMs, resumeOptions);
  sweeper.start();
  const retention = new RetentionJob(store, config.retentionMs, config.retentionIntervalMs); // server/retention.ts
  await retention.start();
  logger.info({ port: config.port, publicAddress: config.publicAddress }, "listening");

  return {
    server,
    store,
    async stop() {
      sweeper.stop();
      await retention.stop();
      metricsServer?.close();
      // what the actors emitted while flushing gets its chance to go out
      await Promise.race([webhooks.drain(), new Promise((r) => setTimeout(r, 3_000))]);
      await server.gracefullyShutdown(false);
      await store.close();
      redis?.disconnect();
    },
  };
}

