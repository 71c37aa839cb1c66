// PM2: one fork-mode process per core, each on its own port with its own
// PUBLIC_ADDRESS (Colyseus routes a client to the process hosting its room).
// `npm run cluster` / `npm run cluster:stop`. Needs REDIS_URL (default: local Redis).
const os = require("node:os");
const path = require("node:path");

const instances = Number(process.env.INSTANCES || os.availableParallelism?.() || os.cpus().length);
const basePort = Number(process.env.BASE_PORT || 2567);
const host = process.env.PUBLIC_HOST || "localhost";

module.exports = {
  apps: Array.from({ length: instances }, (_, i) => ({
    name: `cc-${i}`,
    script: path.join(__dirname, "server/index.ts"),
    // Node 24 from the `node` devDependency, with tsx to run TypeScript
    interpreter: path.join(__dirname, "node_modules/.bin/node"),
    node_args: ["--import", "tsx"],
    cwd: __dirname,
    exec_mode: "fork",
    instances: 1,
    wait_ready: true,
    listen_timeout: 15000,
    // SIGTERM: stop taking joins, flush, disconnect clients; then SIGKILL
    kill_timeout: 10000,
    autorestart: true,
    env: {
      NODE_ENV: process.env.NODE_ENV || "development",
      PORT: String(basePort + i),
      PUBLIC_ADDRESS: `${host}:${basePort + i}`,
      REDIS_URL: process.env.REDIS_URL || "redis://127.0.0.1:6379",
      ...(process.env.AUTH_SECRET ? { AUTH_SECRET: process.env.AUTH_SECRET } : {}),
      // the store (docs/storage.md): unset, the processes keep their rooms in Redis on REDIS_URL
      ...(process.env.DATABASE_URL ? { DATABASE_URL: process.env.DATABASE_URL } : {}),
      ...(process.env.CONVERSATION_IDLE_MS ? { CONVERSATION_IDLE_MS: process.env.CONVERSATION_IDLE_MS } : {}),
    },
  })),
};
