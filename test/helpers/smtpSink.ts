import type { AddressInfo } from "node:net";
import { simpleParser, type ParsedMail } from "mailparser";
import { SMTPServer } from "smtp-server";

/** A local SMTP server standing for the outbound relay: keeps every mail it is given, parsed. */
export interface SmtpSink {
  port: number;
  mails: ParsedMail[];
  /** answer the next mails with a temporary failure while true */
  refuse: boolean;
  close(): Promise<void>;
}

export async function startSmtpSink(): Promise<SmtpSink> {
  const sink: SmtpSink = { port: 0, mails: [], refuse: false, close: async () => {} };
  const server = new SMTPServer({
    authOptional: true, disabledCommands: ["STARTTLS", "AUTH"], logger: false,
    async onData(stream, _session, callback) {
      const mail = await simpleParser(stream);
      if (sink.refuse) { callback(Object.assign(new Error("mailbox busy"), { responseCode: 451 })); return; }
      sink.mails.push(mail);
      callback();
    },
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  sink.port = (server.server.address() as AddressInfo).port;
  sink.close = () => new Promise((resolve) => server.close(() => resolve()));
  return sink;
}
