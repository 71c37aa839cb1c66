import { startEmailConnector } from "./index";

/**
 * The email connector as a process: `npx tsx connectors/email/main.ts`, configured by
 * the environment (docs/channels.md, docs/configuration.md).
 */
const env = process.env;
const need = (name: string) => {
  const value = env[name];
  if (!value) { console.error(`${name} must be set`); process.exit(2); }
  return value;
};

startEmailConnector({
  apiUrl: need("CONNECTOR_API_URL"),
  token: env.CONNECTOR_TOKEN,
  authSecret: env.AUTH_SECRET,
  connectorSecret: need("CONNECTOR_SECRET"),
  smtpPort: Number(env.EMAIL_SMTP_PORT ?? 2525),
  smtpHost: env.EMAIL_SMTP_HOST ?? "0.0.0.0",
  httpPort: Number(env.EMAIL_HTTP_PORT ?? 8025),
  httpHost: env.EMAIL_HTTP_HOST ?? "127.0.0.1",
  relay: {
    host: need("EMAIL_RELAY_HOST"), port: Number(env.EMAIL_RELAY_PORT ?? 587), secure: env.EMAIL_RELAY_SECURE === "true",
    user: env.EMAIL_RELAY_USER, pass: env.EMAIL_RELAY_PASS,
  },
  from: need("EMAIL_FROM"),
  maxMessageBytes: env.EMAIL_MAX_BYTES ? Number(env.EMAIL_MAX_BYTES) : undefined,
  teamId: env.EMAIL_TEAM_ID,
}).then((c) => {
  console.log(JSON.stringify({ msg: "email connector listening", smtpPort: c.smtpPort, httpPort: c.httpPort }));
  const stop = () => { void c.close().then(() => process.exit(0)); };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}, (err) => { console.error(err); process.exit(1); });
