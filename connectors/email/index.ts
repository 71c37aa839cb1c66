import { createHash } from "node:crypto";
import type { AddressInfo } from "node:net";
import { convert } from "html-to-text";
import { simpleParser, type AddressObject } from "mailparser";
import nodemailer from "nodemailer";
import { SMTPServer } from "smtp-server";
import { ApiError, ConnectorApi, startDeliveryEndpoint, type Delivery } from "../shared/api";
import { escapeHtml, parseThread, replySubject, replyText, threadOf } from "./text";

/**
 * The email connector (docs/channels.md), a process of its own that uses only the
 * connector API: an SMTP server takes the customers' mails (smtp-server), parses them
 * (mailparser: HTML is turned into plain text, nothing of it is kept or rendered) and
 * posts them, idempotent on their Message-ID; the server's deliveries go out through
 * an SMTP relay (nodemailer) as answers in the customer's thread (In-Reply-To,
 * References, "Re:" subject), each with a Message-ID of its own.
 */
export interface EmailConnectorOptions {
  apiUrl: string;
  token?: string;
  authSecret?: string;
  /** the CONNECTOR_SECRET the server signs deliveries with */
  connectorSecret: string;
  /** inbound SMTP (customers' mail, from the MX or a forwarding rule) */
  smtpPort: number;
  smtpHost?: string;
  /** the delivery endpoint (CONNECTOR_URLS email=http://host:port/) */
  httpPort: number;
  httpHost?: string;
  /** outbound SMTP relay */
  relay: { host: string; port: number; secure?: boolean; user?: string; pass?: string; ignoreTLS?: boolean };
  /** the answers' From, e.g. "Support <support@example.com>"; its domain names our Message-IDs */
  from: string;
  /** largest inbound mail accepted, bytes */
  maxMessageBytes?: number;
  /** the team whose queue serves customers first seen by email */
  teamId?: string;
}

export interface EmailConnector {
  smtpPort: number;
  httpPort: number;
  close(): Promise<void>;
}

const HTML_AS_TEXT = {
  wordwrap: false,
  selectors: [
    { selector: "a", options: { ignoreHref: true } },
    { selector: "img", format: "skip" },
    { selector: "style", format: "skip" },
    { selector: "script", format: "skip" },
  ],
};

const first = (a: AddressObject | AddressObject[] | undefined) => (Array.isArray(a) ? a[0] : a)?.value[0];

export async function startEmailConnector(options: EmailConnectorOptions): Promise<EmailConnector> {
  const api = new ConnectorApi({ apiUrl: options.apiUrl, type: "email", token: options.token, authSecret: options.authSecret });
  const domain = /@([^>\s]+)/.exec(options.from)?.[1] ?? "localhost";
  const maxBytes = options.maxMessageBytes ?? 10 * 1024 * 1024;

  const smtp = new SMTPServer({
    authOptional: true,
    disabledCommands: ["AUTH"],
    size: maxBytes,
    banner: "contact center email connector",
    logger: false,
    async onData(stream, _session, callback) {
      try {
        const mail = await simpleParser(stream, { skipImageLinks: true });
        if ((stream as any).sizeExceeded) { callback(Object.assign(new Error("message too large"), { responseCode: 552 })); return; }
        const sender = first(mail.from);
        if (!sender?.address) { callback(Object.assign(new Error("no From address"), { responseCode: 550 })); return; }
        // a mail without Message-ID still gets a stable key: the hash of what it says
        const messageId = mail.messageId ?? `<sha256-${createHash("sha256").update(`${sender.address}\n${mail.date?.getTime()}\n${mail.text}`).digest("hex")}@${domain}>`;
        // HTML is read as text only: no links, images (trackers), styles or scripts are kept
        const body = typeof mail.html === "string" ? convert(mail.html, HTML_AS_TEXT) : mail.text ?? "";
        const address = sender.address.toLowerCase();
        // files: uploaded for the sender; one the server does not take (type, size) is left out
        const attachments: string[] = [];
        for (const file of mail.attachments.filter((a) => a.contentDisposition !== "inline" || !a.related).slice(0, 10)) {
          const ref = await api.upload(address, file.filename ?? "attachment", file.contentType, file.content).catch((err) => {
            if (err instanceof ApiError && err.permanent) { return null; }
            throw err;
          });
          if (ref) { attachments.push(ref.id); }
        }
        const text = replyText(body) || (attachments.length ? "" : (mail.subject ?? "").trim());
        if (!text && !attachments.length) { callback(); return; } // nothing to say: taken and dropped
        await api.inbound({
          address, messageId, text, ...(sender.name ? { name: sender.name } : {}), ...(attachments.length ? { attachments } : {}),
          context: JSON.stringify(threadOf({ subject: mail.subject, messageId, references: mail.references })),
          ...(options.teamId ? { teamId: options.teamId } : {}),
        });
        callback();
      } catch (err: any) {
        // a refusal stays refused (5xx); anything else makes the sending server retry later (4xx)
        const permanent = err instanceof ApiError && err.permanent;
        callback(Object.assign(new Error(permanent ? `refused: ${err.code}` : "try again later"), { responseCode: permanent ? 554 : 451 }));
      }
    },
  });
  await new Promise<void>((resolve, reject) => {
    smtp.once("error", reject);
    smtp.listen(options.smtpPort, options.smtpHost ?? "127.0.0.1", () => resolve());
  });

  const transport = nodemailer.createTransport({
    host: options.relay.host, port: options.relay.port, secure: options.relay.secure ?? false,
    ignoreTLS: options.relay.ignoreTLS ?? false,
    ...(options.relay.user ? { auth: { user: options.relay.user, pass: options.relay.pass ?? "" } } : {}),
  });

  const send = async (delivery: Delivery) => {
    const thread = parseThread(delivery.channel.context);
    const text = delivery.data.rich ? delivery.data.fallbackText ?? delivery.data.text : delivery.data.text;
    await transport.sendMail({
      from: options.from,
      to: delivery.channel.address,
      subject: replySubject(thread?.subject),
      // one Message-ID per message and session: a retried delivery sends the same id
      messageId: `<${delivery.roomId}.${delivery.data.seq}.${delivery.channel.sessionId}@${domain}>`,
      ...(thread ? { inReplyTo: thread.messageId, references: thread.references } : {}),
      // rich content (quick replies, cards) as its plain-text fallback: mail clients show no buttons
      text,
      html: `<p>${escapeHtml(text).replace(/\n/g, "<br>")}</p>`,
      // nodemailer fetches each file from its signed URL while sending
      attachments: (delivery.data.attachments ?? []).map((file) => ({ filename: file.name, contentType: file.type, href: file.url })),
    });
    // accepted by the relay: "sent" (an email has no delivery or read receipts we rely on)
    await api.status({ roomId: delivery.roomId, sessionId: delivery.channel.sessionId, seq: delivery.data.seq, status: "sent" }).catch(() => undefined);
  };
  const endpoint = await startDeliveryEndpoint(options.httpPort, options.connectorSecret, send, options.httpHost);

  return {
    smtpPort: (smtp.server.address() as AddressInfo).port,
    httpPort: endpoint.port,
    async close() {
      await endpoint.close();
      await new Promise<void>((resolve) => smtp.close(() => resolve()));
      transport.close();
    },
  };
}
