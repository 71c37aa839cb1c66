import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import nodemailer, { type SendMailOptions } from "nodemailer";
import { signToken } from "../server/auth";
import { startEmailConnector, type EmailConnector } from "../connectors/email";
import { replySubject, replyText } from "../connectors/email/text";
import { startConnectorProcess } from "./helpers/connectorProcess";
import { startSmtpSink, type SmtpSink } from "./helpers/smtpSink";
import { clientFor, freePort, startServerProcess, TEST_SECRET, uniqueId, until, waitFor, type ServerProcess } from "./helpers/server";

/**
 * The email connector end to end (docs/channels.md): a customer's mail through SMTP
 * into the connector, the connector API, the customer's room; the agent's answer out
 * of the room's outbox, through the connector, to an SMTP sink in the test, in the
 * customer's thread. Real server process, real SMTP servers on both sides.
 */
const CONNECTOR_SECRET = "connector-secret-for-the-tests-0123456789";

describe("email connector", function () {
  this.timeout(40_000);
  let server: ServerProcess;
  let sink: SmtpSink;
  let connector: EmailConnector;
  let dir: string;
  const teamId = uniqueId("mailteam");

  before(async () => {
    sink = await startSmtpSink();
    const [httpPort, port] = [await freePort(), await freePort()];
    dir = mkdtempSync(path.join(tmpdir(), "cc-email-"));
    server = await startServerProcess({
      CONNECTOR_URLS: `email=http://127.0.0.1:${httpPort}/`, CONNECTOR_SECRET, WEBHOOK_MAX_ATTEMPTS: "3", WEBHOOK_BACKOFF_MS: "100",
      ATTACHMENTS_STORAGE: `disk:${dir}`, PUBLIC_URL: `http://127.0.0.1:${port}`,
    }, port);
    connector = await startEmailConnector({
      apiUrl: server.url, authSecret: TEST_SECRET, connectorSecret: CONNECTOR_SECRET,
      smtpPort: 0, httpPort, relay: { host: "127.0.0.1", port: sink.port, ignoreTLS: true },
      from: "Support <support@cc.example.test>", teamId,
    });
  });
  after(async () => {
    await connector?.close(); await server?.stop(); await sink?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const customerMail = (mail: SendMailOptions) =>
    nodemailer.createTransport({ host: "127.0.0.1", port: connector.smtpPort, ignoreTLS: true }).sendMail(mail);

  it("a customer writes by email; the agent's answer arrives by email in the same thread", async () => {
    const address = `${uniqueId("ann")}@customer.example.test`;
    const desk = await (await clientFor(server.url, { sub: uniqueId("agent"), role: "agent", teams: [teamId] })).joinOrCreate("team", { teamId });
    await customerMail({
      from: `Ann Example <${address}>`, to: "support@cc.example.test", subject: "Order 17 is late",
      messageId: "<order17-1@customer.example.test>",
      text: "Where is my order?",
      html: "<p>Where is my <b>order</b>?</p><script>alert(1)</script>",
    });
    // the new conversation reaches the team's queue through the normal routing
    desk.onMessage("offer", () => {});
    await waitFor(desk, () => [...(desk.state.requests?.values() ?? [])].some((r: any) => r.roomId.startsWith("cc-cu-")), 10_000, "the request in the queue");
    const request: any = [...desk.state.requests.values()].find((r: any) => r.roomId.startsWith("cc-cu-"));
    const agent = await (await clientFor(server.url, { sub: uniqueId("agent"), role: "agent", teams: [teamId] })).joinOrCreate("contact_center", { customerId: request.customerId });
    await waitFor(agent, () => agent.state.conversation?.messages.length === 1, 5_000, "the mail in the transcript");
    const [message] = agent.state.conversation.messages;
    assert.deepEqual([message.senderRole, message.senderName, message.text], ["customer", "Ann Example", "Where is my order?"]);
    const [session]: any[] = [...agent.state.conversation.channelSessions.values()];
    assert.deepEqual([session.type, session.address, session.via], ["email", address, "connector"]);

    const { seq } = await agent.request("send", { id: "a1", text: "It ships today.\nSorry for the wait <3" });
    await until(() => sink.mails.length === 1, 10_000, "the answer in the sink");
    const answer = sink.mails[0]!;
    assert.equal(answer.to && !Array.isArray(answer.to) ? answer.to.value[0]!.address : "", address);
    assert.equal(answer.subject, "Re: Order 17 is late");
    assert.equal(answer.inReplyTo, "<order17-1@customer.example.test>");
    assert.deepEqual([answer.references].flat(), ["<order17-1@customer.example.test>"]);
    assert.equal(answer.text?.trim(), "It ships today.\nSorry for the wait <3");
    assert.match(String(answer.html), /Sorry for the wait &lt;3/);
    assert.match(answer.messageId!, /@cc\.example\.test>$/);
    await waitFor(agent, () => ([...agent.state.conversation.channelSessions.values()][0] as any).sentSeq === seq, 5_000, "sent");

    // the customer answers in the thread (quoting us): same conversation, the quote left out
    await customerMail({
      from: `Ann Example <${address}>`, to: "support@cc.example.test", subject: "Re: Order 17 is late",
      messageId: "<order17-2@customer.example.test>", inReplyTo: answer.messageId, references: ["<order17-1@customer.example.test>", answer.messageId!],
      text: "Thanks!\n\nOn Tue, Support wrote:\n> It ships today.\n",
    });
    await waitFor(agent, () => agent.state.conversation?.messages.length === 3, 5_000, "the reply");
    assert.equal(agent.state.conversation.messages[2].text, "Thanks!");
    await agent.request("send", { id: "a2", text: "You're welcome" });
    await until(() => sink.mails.length === 2, 10_000, "the second answer");
    assert.equal(sink.mails[1]!.inReplyTo, "<order17-2@customer.example.test>");
    assert.deepEqual([sink.mails[1]!.references].flat().slice(-2), [answer.messageId, "<order17-2@customer.example.test>"]);
    await agent.leave();
    await desk.leave();
  });

  it("a mail delivered twice (same Message-ID) is stored once", async () => {
    const address = `${uniqueId("bob")}@customer.example.test`;
    const mail = { from: address, to: "support@cc.example.test", subject: "Hi", messageId: `<${uniqueId("m")}@customer.example.test>`, text: "once" };
    await customerMail(mail);
    await customerMail(mail);
    const res = await fetch(`${server.url}/api/channels/email/messages`, {
      method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${await signToken(TEST_SECRET, { sub: "e", role: "connector", channels: ["email"] })}` },
      body: JSON.stringify({ address, messageId: mail.messageId, text: "once" }),
    });
    const body = await res.json() as any;
    assert.deepEqual([body.seq, body.duplicate], [1, true]);
  });

  it("an HTML-only mail becomes plain text: markup and scripts never reach the transcript", async () => {
    const address = `${uniqueId("cy")}@customer.example.test`;
    const app = await signToken(TEST_SECRET, { sub: "crm", role: "app" });
    const customerId = uniqueId("cy");
    // the app links the address first, so the test knows the room
    await fetch(`${server.url}/api/customers/${customerId}/channels`, {
      method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${app}` }, body: JSON.stringify({ type: "email", address }),
    });
    await customerMail({
      from: address, to: "support@cc.example.test", subject: "html",
      html: "<html><head><style>p{color:red}</style><script>alert('x')</script></head><body><p>Hello <b>there</b> &amp; <img src=\"http://tracker.example/p.gif\" onerror=\"alert(1)\"></p></body></html>",
    });
    const agent = await (await clientFor(server.url, { sub: uniqueId("agent"), role: "agent", teams: [teamId] })).joinOrCreate("contact_center", { customerId });
    await waitFor(agent, () => agent.state.conversation?.messages.length === 1, 5_000, "the mail");
    const text: string = agent.state.conversation.messages[0].text;
    assert.equal(text.trim(), "Hello there &");
    assert.doesNotMatch(text, /alert|script|<|color|tracker/);
    await agent.leave();
  });

  it("files pass through both ways: the customer's attachment to the agent, the agent's to the customer's mailbox", async () => {
    const address = `${uniqueId("dee")}@customer.example.test`;
    const customerId = uniqueId("dee");
    const app = await signToken(TEST_SECRET, { sub: "crm", role: "app" });
    await fetch(`${server.url}/api/customers/${customerId}/channels`, {
      method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${app}` }, body: JSON.stringify({ type: "email", address }),
    });
    const invoice = Buffer.from("%PDF-1.4 invoice 17");
    await customerMail({
      from: address, to: "support@cc.example.test", subject: "Invoice", messageId: `<${uniqueId("i")}@customer.example.test>`,
      text: "See attached", attachments: [{ filename: "invoice.pdf", content: invoice, contentType: "application/pdf" }],
    });
    const agentWho = { sub: uniqueId("agent"), role: "agent" as const, teams: [teamId] };
    const agent = await (await clientFor(server.url, agentWho)).joinOrCreate("contact_center", { customerId });
    await waitFor(agent, () => agent.state.conversation?.messages.length === 1, 5_000, "the mail");
    const [mail] = agent.state.conversation.messages;
    assert.deepEqual(mail.attachments.map((a: any) => [a.name, a.type, a.size]), [["invoice.pdf", "application/pdf", invoice.length]]);
    const agentToken = await signToken(TEST_SECRET, agentWho);
    const link = await (await fetch(`${server.url}/api/rooms/cc-${customerId}/attachments/${mail.attachments[0].id}`, { headers: { authorization: `Bearer ${agentToken}` } })).json() as any;
    assert.deepEqual(Buffer.from(await (await fetch(link.url)).arrayBuffer()), invoice);

    const label = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47]), Buffer.alloc(100, 1)]);
    const up = await (await fetch(`${server.url}/api/rooms/cc-${customerId}/attachments?name=label.png`, {
      method: "POST", headers: { "content-type": "image/png", authorization: `Bearer ${agentToken}` }, body: new Uint8Array(label),
    })).json() as any;
    const before = sink.mails.length;
    await agent.request("send", { id: "a1", text: "Here is the return label", attachments: [up.id] });
    await until(() => sink.mails.length === before + 1, 10_000, "the answer with its file");
    const answer = sink.mails[before]!;
    assert.deepEqual(answer.attachments.map((a) => [a.filename, a.contentType]), [["label.png", "image/png"]]);
    assert.deepEqual(answer.attachments[0]!.content, label);
    await agent.leave();
  });

  it("runs as a process of its own (connectors/email/main.ts), configured by the environment", async function () {
    const [smtpPort, httpPort] = [await freePort(), await freePort()];
    const proc = await startConnectorProcess("connectors/email/main.ts", {
      CONNECTOR_API_URL: server.url, AUTH_SECRET: TEST_SECRET, CONNECTOR_SECRET, EMAIL_SMTP_PORT: String(smtpPort), EMAIL_SMTP_HOST: "127.0.0.1",
      EMAIL_HTTP_PORT: String(httpPort), EMAIL_RELAY_HOST: "127.0.0.1", EMAIL_RELAY_PORT: String(sink.port), EMAIL_FROM: "Support <support@cc.example.test>",
    });
    try {
      const address = `${uniqueId("proc")}@customer.example.test`;
      const customerId = uniqueId("proc");
      const app = await signToken(TEST_SECRET, { sub: "crm", role: "app" });
      await fetch(`${server.url}/api/customers/${customerId}/channels`, {
        method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${app}` }, body: JSON.stringify({ type: "email", address }),
      });
      await nodemailer.createTransport({ host: "127.0.0.1", port: smtpPort, ignoreTLS: true }).sendMail({ from: address, to: "support@cc.example.test", subject: "p", text: "via the process" });
      const agent = await (await clientFor(server.url, { sub: uniqueId("agent"), role: "agent", teams: [teamId] })).joinOrCreate("contact_center", { customerId });
      await waitFor(agent, () => agent.state.conversation?.messages[0]?.text === "via the process", 5_000, "the mail through the process");
      await agent.leave();
    } finally {
      await proc.stop();
    }
  });

  it("parses replies: quotes and signatures left out, one Re:", () => {
    assert.equal(replyText("Yes please\r\n\r\nOn Mon, 1 Jan, A <a@b> wrote:\r\n> earlier\r\n> more"), "Yes please");
    assert.equal(replyText("Hello\n> inline quote\nagain\n-- \nAnn\nCEO"), "Hello\nagain");
    assert.equal(replySubject("RE: x"), "RE: x");
    assert.equal(replySubject("x"), "Re: x");
    assert.equal(replySubject(undefined), "Re: your message");
  });
});
