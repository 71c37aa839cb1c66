import { startWhatsAppConnector } from "./index";

/** The WhatsApp connector as a process: `npx tsx connectors/whatsapp/main.ts` (docs/channels.md, docs/configuration.md). */
const env = process.env;
const need = (name: string) => {
  const value = env[name];
  if (!value) { console.error(`${name} must be set`); process.exit(2); }
  return value;
};

startWhatsAppConnector({
  apiUrl: need("CONNECTOR_API_URL"),
  token: env.CONNECTOR_TOKEN,
  authSecret: env.AUTH_SECRET,
  connectorSecret: need("CONNECTOR_SECRET"),
  httpPort: Number(env.WHATSAPP_HTTP_PORT ?? 8026),
  httpHost: env.WHATSAPP_HTTP_HOST ?? "0.0.0.0",
  appSecret: need("WHATSAPP_APP_SECRET"),
  verifyToken: need("WHATSAPP_VERIFY_TOKEN"),
  graphUrl: env.WHATSAPP_GRAPH_URL ?? "https://graph.facebook.com",
  graphVersion: env.WHATSAPP_GRAPH_VERSION,
  phoneNumberId: need("WHATSAPP_PHONE_NUMBER_ID"),
  accessToken: need("WHATSAPP_ACCESS_TOKEN"),
  teamId: env.WHATSAPP_TEAM_ID,
}).then((c) => {
  console.log(JSON.stringify({ msg: "whatsapp connector listening", port: c.port }));
  const stop = () => { void c.close().then(() => process.exit(0)); };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}, (err) => { console.error(err); process.exit(1); });
