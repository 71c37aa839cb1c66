import { createHmac } from "node:crypto";
import os from "node:os";
import path from "node:path";
import { failureTimes } from "./cluster/detection";

/**
 * Configuration from the environment, read once at start-up. Names and defaults of
 * the contract's variables are fixed (docs/configuration.md); the rest are documented
 * in docs/configuration.md.
 */

export interface Config {
  port: number;
  redisUrl: string | undefined;
  /** where rooms are stored (docs/storage.md); resolved: never empty */
  databaseUrl: string;
  /** PostgreSQL connections per process */
  databasePoolSize: number;
  /** a store query unanswered this long fails with `unavailable` (PostgreSQL) */
  databaseQueryTimeoutMs: number;
  /** SQLite: "full" fsyncs every commit, "normal" only at checkpoints (docs/storage.md) */
  sqliteSynchronous: "full" | "normal";
  publicAddress: string;
  authSecret: string;
  /** development: dev tokens and a default secret are allowed */
  development: boolean;
  conversationIdleMs: number;
  /** a conversation waiting on its customer (an agent or bot spoke last) ends after this (CUSTOMER_IDLE_MS) */
  customerIdleMs: number;
  /** a conversation waiting on its agent (the customer spoke last) ends after this (AGENT_IDLE_MS) */
  agentIdleMs: number;
  /** no conversation lasts longer than this, queued or not (CONVERSATION_MAX_MS) */
  conversationMaxMs: number;
  /** the last agent of a live conversation gone this long: it goes back to the queue */
  agentDisconnectMs: number;
  /** an offer not accepted within this long goes to the next candidate */
  offerTimeoutMs: number;
  /** a customer waiting this long in the queue moves to an asynchronous follow-up */
  queueMaxWaitMs: number;
  /** how long a dropped client's seat is kept for a reconnection */
  reconnectGraceSeconds: number;
  /** newest messages kept in the replicated state; older ones come through `history` */
  stateMessageWindow: number;
  historyPageMax: number;
  historyPageDefault: number;
  maxTextCodePoints: number;
  /** largest WebSocket frame accepted */
  maxPayloadBytes: number;
  messagesPerSecond: number;
  messagesBurst: number;
  /** how often a node looks for idle deadlines nobody is serving */
  sweepIntervalMs: number;
  /** /health and /ready: longest wait for one dependency's ping, reuse of a report, background probe (server/http/probes.ts) */
  healthProbeTimeoutMs: number;
  healthCacheMs: number;
  healthIntervalMs: number;
  /** a matchmaking request unanswered this long is refused with `unavailable` (server/http/matchmakeErrors.ts) */
  matchmakeTimeoutMs: number;
  /** how often a node looks for dead processes of the cluster (server/cluster/processWatch.ts) */
  processCheckMs: number;
  /** a command on the node's Redis connection unanswered this long fails (a frozen Redis): `unavailable` */
  redisCommandTimeoutMs: number;
  logLevel: string;
  /** team of customer rooms that name none */
  defaultTeam: string;
  /** teams whose new conversations are offered to a bot first */
  botTeams: string[];
  /** concurrent conversations of an agent unless it sets its own lower limit */
  agentMaxConversations: number;
  /** a request nobody accepted within this long is escalated to the team's supervisors */
  requestEscalateMs: number;
  /** the Colyseus monitor at /monitor, behind basic auth; off without a password */
  monitorUser: string;
  monitorPassword: string;
  /** how often a room sends its state changes besides new messages (sent at once) */
  patchRateMs: number;
  /** a request payload larger than this is refused with payload_too_large */
  maxRequestBytes: number;
  /** joins per second per user (per process) */
  joinsPerSecond: number;
  /** budgets per user (per process), server/policy/budgets.ts: read, typing, unknown types */
  signalsPerSecond: number;
  /** pages (HISTORY_PAGE_DEFAULT items) of history and conversations per second per user */
  queriesPerSecond: number;
  /** end, transfer, invite, handover, barge, accept, status per second per user */
  deskActionsPerSecond: number;
  /** unanswered requests a connection may have; more are refused at once */
  maxInFlightRequests: number;
  /** a connection whose unsent output passes this is closed (slow reader) */
  maxBufferedBytes: number;
  /** Colyseus' per-connection frame limit (Room.maxMessagesPerSecond): a backstop that disconnects */
  maxFramesPerSecond: number;
  /** customer rooms an agent may be in at once (per process) */
  maxRoomsPerAgent: number;
  /** HTTP API requests per second per application */
  appRequestsPerSecond: number;
  /** webhook endpoints (empty: off), their HMAC secret, timeout, attempts and first backoff */
  webhookUrls: string[];
  webhookSecret: string;
  webhookTimeoutMs: number;
  webhookMaxAttempts: number;
  webhookBackoffMs: number;
  /** agents and supervisors join only customer rooms of their own teams */
  agentTeamScoped: boolean;
  /** longest token lifetime accepted (exp - iat, and exp - now) */
  authMaxTokenLifetimeSeconds: number;
  /** when set, tokens must carry exactly this iss / this aud */
  authIssuer: string | undefined;
  authAudience: string | undefined;
  /** private rooms a customer may create per hour (per process) */
  privateRoomsPerHour: number;
  /** private rooms of a customer's own that may be open at once (unused, or with an active conversation) */
  privateRoomsPerCustomer: number;
  /** a private room never used (no message) and with nobody in it is removed this long after its creation */
  privateRoomUnusedMs: number;
  /** development routes (dev tokens, the pages): NODE_ENV=development and the built-in secret only */
  devRoutes: boolean;
  /** largest HTTP request body read (every route, before authentication) */
  httpBodyMaxBytes: number;
  /** origins allowed by CORS on /matchmake and /api, never with credentials; "*": any */
  corsOrigins: string[];
  /** the monitor may run room methods (room call: dispose, disconnect, ...) */
  monitorAllowActions: boolean;
  /** failed monitor logins per client address within monitorLockoutMs before a lockout of monitorLockoutMs */
  monitorMaxFailures: number;
  monitorLockoutMs: number;
  /** bearer token for /metrics (empty: none) and a separate port for it (0: the public port) */
  metricsToken: string;
  metricsPort: number;
  /** the matchmaker's time to declare a silent process dead (docs/cluster.md, Fencing) */
  deadProcessMs: number;
  /** a process that could not renew its lease for this long stops its actors; < deadProcessMs */
  leaseMs: number;
  /** fault injection for the cluster tests: delay of every actor start (NODE_ENV=test only) */
  actorStartDelayMs: number;
  /** ended conversations are purged this many ms after they ended, per room kind (0: kept forever; server/retention.ts) */
  retentionMs: { contact_center: number; private: number; team: number };
  /** how often one node of the cluster runs the retention purge */
  retentionIntervalMs: number;
  /** largest page of transcript search results (GET /api/search) */
  searchPageMax: number;
  /** channel connectors (docs/channels.md): delivery endpoint per channel type, its HMAC secret */
  connectorUrls: Record<string, string>;
  connectorSecret: string;
  /** a connector's channel session ends after this long without an inbound message, per type */
  channelIdleMs: { byType: Record<string, number>; fallback: number };
  /** connector API requests per second per connector (its token's sub) */
  connectorRequestsPerSecond: number;
  /** attachments (server/attachments/): `disk:<dir>` or `s3://<bucket>`, the S3 client, URL signing */
  attachmentsStorage: string;
  s3: { endpoint?: string; region: string; accessKeyId?: string; secretAccessKey?: string; forcePathStyle: boolean };
  attachmentUrlSecret: string;
  /** the base of the URLs this server hands out (attachment links), e.g. https://chat.example.com */
  publicUrl: string;
  /** lifetime of an attachment URL handed to a reader, and of one in a connector's delivery */
  attachmentUrlTtlSeconds: number;
  attachmentDeliveryUrlTtlSeconds: number;
  /** serve the widget and the console outside development too (they sign in with the host application's JWTs) */
  webPages: boolean;
  /** origins whose pages may frame the widget (embed.js), besides this one */
  widgetEmbedOrigins: string[];
  /** wrap-up reasons per team id ("*": every other team), WRAP_UP_REASONS; desk/wrapUp.ts */
  wrapUpReasons: Record<string, string[]>;
  /** an `end` in a team with a list must name one of its reasons */
  wrapUpRequired: boolean;
  /** "<name> joined the conversation" events in transcripts when an agent or bot joins (conversation/joinEvents.ts) */
  transcriptJoinEvents: boolean;
}

/** `type=value,type=value` pairs (CONNECTOR_URLS, CHANNEL_IDLE_MS); a bare value is the fallback. */
function pairs(env: NodeJS.ProcessEnv, name: string): { byType: Record<string, string>; bare?: string } {
  const byType: Record<string, string> = {};
  let bare: string | undefined;
  for (const item of (env[name] ?? "").split(",").map((p) => p.trim()).filter(Boolean)) {
    const at = item.indexOf("=");
    if (at < 0) { bare = item; continue; }
    const type = item.slice(0, at).trim();
    if (!/^[a-z][a-z0-9_-]{0,31}$/.test(type)) { throw new Error(`${name}: "${type}" is not a channel type`); }
    byType[type] = item.slice(at + 1).trim();
  }
  return { byType, bare };
}

function channelIdle(env: NodeJS.ProcessEnv) {
  const { byType, bare } = pairs(env, "CHANNEL_IDLE_MS");
  const ms = (raw: string) => {
    const value = Number(raw);
    if (!Number.isInteger(value) || value < 1_000) { throw new Error(`CHANNEL_IDLE_MS values must be integers >= 1000, got "${raw}"`); }
    return value;
  };
  return {
    byType: Object.fromEntries(Object.entries(byType).map(([type, raw]) => [type, ms(raw)])),
    fallback: bare === undefined ? 86_400_000 : ms(bare),
  };
}


/** Days as ms; fractions allowed (tests use seconds); 0 or unset: keep forever. */
function retentionDays(env: NodeJS.ProcessEnv, name: string): number {
  const raw = env[name];
  if (raw === undefined || raw === "") { return 0; }
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) { throw new Error(`${name} must be a number of days >= 0, got "${raw}"`); }
  return Math.round(value * 86_400_000);
}

const DEV_SECRET = "development-only-secret-change-me-0123456789";

function int(env: NodeJS.ProcessEnv, name: string, fallback: number, min = 0): number {
  const raw = env[name];
  if (raw === undefined || raw === "") { return fallback; }
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) {
    throw new Error(`${name} must be an integer >= ${min}, got "${raw}"`);
  }
  return value;
}

/**
 * DATABASE_URL when set; else the Redis store on REDIS_URL (a Redis node keeps its
 * rooms where it always has); else, in tests, memory (each test server starts empty);
 * else a SQLite file, so `npm start` keeps its history across restarts.
 */
function defaultDatabaseUrl(env: NodeJS.ProcessEnv): string {
  if (env.DATABASE_URL) { return env.DATABASE_URL; }
  if (env.REDIS_URL) { return env.REDIS_URL; }
  if (env.NODE_ENV === "test") { return "memory:"; }
  return "sqlite:./data/contact-center.sqlite";
}

function sqliteSynchronous(raw: string | undefined): "full" | "normal" {
  if (raw === undefined || raw === "") { return "full"; }
  if (raw === "full" || raw === "normal") { return raw; }
  throw new Error(`SQLITE_SYNCHRONOUS must be "full" or "normal", got "${raw}"`);
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // development only when asked for by name: a forgotten NODE_ENV must not open /dev/token
  const development = env.NODE_ENV === "development";
  const port = int(env, "PORT", 2567, 0);
  const authSecret = env.AUTH_SECRET || (development ? DEV_SECRET : "");
  if (!development && Buffer.byteLength(authSecret) < 32) {
    throw new Error(`AUTH_SECRET must be set to at least 32 bytes when NODE_ENV=${env.NODE_ENV || "(unset)"} (anything but development)`);
  }
  if ((env.WEBHOOK_URLS ?? "").trim() && !env.WEBHOOK_SECRET) {
    throw new Error("WEBHOOK_SECRET must be set when WEBHOOK_URLS is");
  }
  const connectorUrls = pairs(env, "CONNECTOR_URLS").byType;
  if (Object.keys(connectorUrls).length > 0 && !env.CONNECTOR_SECRET) {
    throw new Error("CONNECTOR_SECRET must be set when CONNECTOR_URLS is");
  }
  return {
    port,
    redisUrl: env.REDIS_URL || undefined,
    databaseUrl: defaultDatabaseUrl(env),
    databasePoolSize: int(env, "DATABASE_POOL_SIZE", 10, 1),
    databaseQueryTimeoutMs: int(env, "DATABASE_QUERY_TIMEOUT_MS", 8_000, 100),
    sqliteSynchronous: sqliteSynchronous(env.SQLITE_SYNCHRONOUS),
    publicAddress: env.PUBLIC_ADDRESS || `localhost:${port}`,
    authSecret,
    development,
    conversationIdleMs: int(env, "CONVERSATION_IDLE_MS", 900_000, 1),
    customerIdleMs: int(env, "CUSTOMER_IDLE_MS", int(env, "CONVERSATION_IDLE_MS", 900_000, 1), 1),
    agentIdleMs: int(env, "AGENT_IDLE_MS", int(env, "CONVERSATION_IDLE_MS", 900_000, 1), 1),
    conversationMaxMs: int(env, "CONVERSATION_MAX_MS", 86_400_000, 1_000),
    agentDisconnectMs: int(env, "AGENT_DISCONNECT_MS", 60_000, 100),
    offerTimeoutMs: int(env, "OFFER_TIMEOUT_MS", 20_000, 100),
    queueMaxWaitMs: int(env, "QUEUE_MAX_WAIT_MS", 600_000, 1_000),
    reconnectGraceSeconds: int(env, "RECONNECT_GRACE_SECONDS", 30, 0),
    stateMessageWindow: int(env, "STATE_MESSAGE_WINDOW", 50, 1),
    historyPageMax: int(env, "HISTORY_PAGE_MAX", 200, 1),
    historyPageDefault: int(env, "HISTORY_PAGE_DEFAULT", 50, 1),
    maxTextCodePoints: int(env, "MAX_TEXT_CODE_POINTS", 4000, 1),
    maxPayloadBytes: int(env, "MAX_PAYLOAD_BYTES", 64 * 1024, 1024),
    messagesPerSecond: int(env, "MESSAGES_PER_SECOND", 10, 1),
    messagesBurst: int(env, "MESSAGES_BURST", 20, 1),
    sweepIntervalMs: int(env, "SWEEP_INTERVAL_MS", 5_000, 100),
    healthProbeTimeoutMs: int(env, "HEALTH_PROBE_TIMEOUT_MS", 500, 10),
    healthCacheMs: int(env, "HEALTH_CACHE_MS", 250, 0),
    healthIntervalMs: int(env, "HEALTH_INTERVAL_MS", 1_000, 100),
    matchmakeTimeoutMs: int(env, "MATCHMAKE_TIMEOUT_MS", 10_000, 100),
    redisCommandTimeoutMs: int(env, "REDIS_COMMAND_TIMEOUT_MS", 3_000, 100),
    processCheckMs: int(env, "PROCESS_CHECK_MS", 500, 50),
    logLevel: env.LOG_LEVEL ?? "info",
    defaultTeam: env.DEFAULT_TEAM || "support",
    botTeams: (env.BOT_TEAMS ?? "").split(",").map((t) => t.trim()).filter(Boolean),
    agentMaxConversations: int(env, "AGENT_MAX_CONVERSATIONS", 5, 1),
    requestEscalateMs: int(env, "REQUEST_ESCALATE_MS", 60_000, 1),
    monitorUser: env.MONITOR_USER || "admin",
    monitorPassword: env.MONITOR_PASSWORD ?? "",
    patchRateMs: int(env, "PATCH_RATE_MS", 200, 10),
    maxRequestBytes: int(env, "MAX_REQUEST_BYTES", 16 * 1024, 256),
    joinsPerSecond: int(env, "JOINS_PER_SECOND", 5, 1),
    signalsPerSecond: int(env, "SIGNALS_PER_SECOND", 20, 1),
    queriesPerSecond: int(env, "QUERIES_PER_SECOND", 4, 1),
    deskActionsPerSecond: int(env, "DESK_ACTIONS_PER_SECOND", 5, 1),
    maxInFlightRequests: int(env, "MAX_IN_FLIGHT_REQUESTS", 8, 1),
    maxBufferedBytes: int(env, "MAX_BUFFERED_BYTES", 8 * 1024 * 1024, 64 * 1024),
    maxFramesPerSecond: int(env, "MAX_FRAMES_PER_SECOND", 300, 10),
    maxRoomsPerAgent: int(env, "MAX_ROOMS_PER_AGENT", 20, 1),
    appRequestsPerSecond: int(env, "APP_REQUESTS_PER_SECOND", 20, 1),
    webhookUrls: (env.WEBHOOK_URLS ?? "").split(",").map((u) => u.trim()).filter(Boolean),
    webhookSecret: env.WEBHOOK_SECRET ?? "",
    webhookTimeoutMs: int(env, "WEBHOOK_TIMEOUT_MS", 5_000, 100),
    webhookMaxAttempts: int(env, "WEBHOOK_MAX_ATTEMPTS", 8, 1),
    webhookBackoffMs: int(env, "WEBHOOK_BACKOFF_MS", 500, 1),
    agentTeamScoped: env.AGENT_TEAM_SCOPED === "true",
    authMaxTokenLifetimeSeconds: int(env, "AUTH_MAX_TOKEN_LIFETIME_SECONDS", 86_400, 60),
    authIssuer: env.AUTH_ISSUER || undefined,
    authAudience: env.AUTH_AUDIENCE || undefined,
    privateRoomsPerHour: int(env, "PRIVATE_ROOMS_PER_HOUR", 10, 1),
    privateRoomsPerCustomer: int(env, "PRIVATE_ROOMS_PER_CUSTOMER", 5, 1),
    privateRoomUnusedMs: int(env, "PRIVATE_ROOM_UNUSED_MS", 3_600_000, 1_000),
    devRoutes: development && authSecret === DEV_SECRET,
    webPages: env.WEB_PAGES === "true",
    widgetEmbedOrigins: embedOrigins(env.WIDGET_EMBED_ORIGINS),
    transcriptJoinEvents: env.TRANSCRIPT_JOIN_EVENTS === "true",
    wrapUpReasons: parseWrapUpReasons(env.WRAP_UP_REASONS),
    wrapUpRequired: env.WRAP_UP_REQUIRED === "true",
    httpBodyMaxBytes: int(env, "HTTP_BODY_MAX_BYTES", 64 * 1024, 1024),
    corsOrigins: (env.CORS_ORIGINS ?? "*").split(",").map((o) => o.trim()).filter(Boolean),
    monitorAllowActions: env.MONITOR_ALLOW_ACTIONS === "true",
    monitorMaxFailures: int(env, "MONITOR_LOGIN_MAX_FAILURES", 5, 1),
    monitorLockoutMs: int(env, "MONITOR_LOCKOUT_MS", 15 * 60_000, 1000),
    metricsToken: env.METRICS_TOKEN ?? "",
    metricsPort: int(env, "METRICS_PORT", 0, 0),
    ...failureTimes(env),
    actorStartDelayMs: env.NODE_ENV === "test" ? int(env, "TEST_ACTOR_START_DELAY_MS", 0, 0) : 0,
    retentionMs: {
      contact_center: retentionDays(env, "RETENTION_DAYS_CONTACT_CENTER"),
      private: retentionDays(env, "RETENTION_DAYS_PRIVATE"),
      team: retentionDays(env, "RETENTION_DAYS_TEAM"),
    },
    retentionIntervalMs: int(env, "RETENTION_INTERVAL_MS", 3_600_000, 100),
    searchPageMax: int(env, "SEARCH_PAGE_MAX", 100, 1),
    connectorUrls,
    connectorSecret: env.CONNECTOR_SECRET ?? "",
    channelIdleMs: channelIdle(env),
    connectorRequestsPerSecond: int(env, "CONNECTOR_REQUESTS_PER_SECOND", 200, 1),
    // tests never write into the work tree
    attachmentsStorage: env.ATTACHMENTS_STORAGE || (env.NODE_ENV === "test" ? `disk:${path.join(os.tmpdir(), "cc-attachments-test")}` : "disk:./data/attachments"),
    s3: {
      endpoint: env.S3_ENDPOINT || undefined, region: env.S3_REGION || "us-east-1",
      accessKeyId: env.S3_ACCESS_KEY_ID || undefined, secretAccessKey: env.S3_SECRET_ACCESS_KEY || undefined,
      forcePathStyle: env.S3_FORCE_PATH_STYLE === "true",
    },
    // a key of its own unless set: derived from AUTH_SECRET, so a URL never doubles as a token
    attachmentUrlSecret: env.ATTACHMENT_URL_SECRET || createHmac("sha256", authSecret).update("attachment urls").digest("hex"),
    publicUrl: (env.PUBLIC_URL || `http://${env.PUBLIC_ADDRESS || `localhost:${port}`}`).replace(/\/+$/, ""),
    attachmentUrlTtlSeconds: int(env, "ATTACHMENT_URL_TTL_SECONDS", 300, 10),
    attachmentDeliveryUrlTtlSeconds: int(env, "ATTACHMENT_DELIVERY_URL_TTL_SECONDS", 86_400, 60),
  };
}

/** Origins for the widget's CSP frame-ancestors: scheme, host and port only, so no value can add a directive. */
function embedOrigins(value: string | undefined): string[] {
  const origins = (value ?? "").split(",").map((o) => o.trim()).filter(Boolean);
  for (const origin of origins) {
    if (!/^https?:\/\/[A-Za-z0-9.-]+(:\d{1,5})?$/.test(origin)) {
      throw new Error(`WIDGET_EMBED_ORIGINS: "${origin}" is not an origin like https://shop.example.com`);
    }
  }
  return origins;
}

/** WRAP_UP_REASONS: `team=reason|reason;other=…` (`*`: every team without its own list); desk/wrapUp.ts applies it. */
export function parseWrapUpReasons(value: string | undefined): Record<string, string[]> {
  const teams: Record<string, string[]> = {};
  for (const part of (value ?? "").split(";").map((p) => p.trim()).filter(Boolean)) {
    const eq = part.indexOf("=");
    const team = eq > 0 ? part.slice(0, eq).trim() : "";
    const reasons = part.slice(eq + 1).split("|").map((r) => r.trim()).filter(Boolean);
    if (!/^(\*|[A-Za-z0-9_-]{1,64})$/.test(team) || reasons.length === 0 || reasons.some((r) => r.length > 200)) {
      throw new Error(`WRAP_UP_REASONS: "${part}" is not team=reason|reason (reasons up to 200 characters)`);
    }
    teams[team] = reasons;
  }
  return teams;
}
