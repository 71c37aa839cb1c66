import { createHmac, randomUUID, timingSafeEqual } from "node:crypto";
import type { Config } from "../config";
import { RequestError } from "../errors";
import type { AttachmentRef } from "../store/types";
import { cleanFileName, uploadRefusal } from "./limits";
import { DiskStorage, S3Storage, type BlobStorage } from "./storage";

/**
 * Attachments (docs/channels.md "Attachments"): uploaded over HTTP into the blob
 * storage with a description (room, uploader, name, type, size), carried by messages
 * as references, and served only through short-lived signed URLs
 * (`/attachments/<roomId>/<id>?exp=&sig=`, HMAC-SHA256 with the URL secret) that the
 * API hands to those allowed to read the room.
 */
export interface StoredAttachment extends AttachmentRef {
  roomId: string;
  /** the user the file is attached for: the uploader, or the customer a connector uploaded for */
  ownerId: string;
  createdAt: number;
}

export const ATTACHMENT_ID = /^att-[0-9a-f]{32}$/;

export class Attachments {
  constructor(private readonly storage: BlobStorage, private readonly secret: string, private readonly baseUrl: string) {}

  describeStorage() { return this.storage.describe(); }

  async upload(input: { roomId: string; ownerId: string; channel: string; name?: string; type: string; data: Buffer }): Promise<AttachmentRef> {
    const type = input.type.split(";", 1)[0]!.trim().toLowerCase();
    const refusal = uploadRefusal(input.channel, type, input.data.length);
    if (refusal) { throw new RequestError(refusal.code, refusal.message); }
    const stored: StoredAttachment = {
      id: `att-${randomUUID().replace(/-/g, "")}`, name: cleanFileName(input.name), type, size: input.data.length,
      roomId: input.roomId, ownerId: input.ownerId, createdAt: Date.now(),
    };
    // bytes first, description second: a description always has its bytes
    await this.storage.put(`${stored.roomId}/${stored.id}`, input.data, type);
    await this.storage.put(`${stored.roomId}/${stored.id}.json`, Buffer.from(JSON.stringify(stored)), "application/json");
    return { id: stored.id, name: stored.name, type: stored.type, size: stored.size };
  }

  async find(roomId: string, id: string): Promise<StoredAttachment | null> {
    if (!ATTACHMENT_ID.test(id)) { return null; }
    const raw = await this.storage.get(`${roomId}/${id}.json`);
    return raw ? JSON.parse(raw.toString("utf8")) : null;
  }

  /**
   * The references a message may carry: each must be in this room and attached for
   * the sender (nobody sends another user's upload, or one of another room).
   */
  async forMessage(roomId: string, senderId: string, ids: string[]): Promise<AttachmentRef[]> {
    const refs: AttachmentRef[] = [];
    for (const id of new Set(ids)) {
      const found = await this.find(roomId, id);
      if (!found || found.ownerId !== senderId) { throw new RequestError("invalid_payload", `attachment ${id} is not an upload of yours in this room`); }
      refs.push({ id: found.id, name: found.name, type: found.type, size: found.size });
    }
    return refs;
  }

  async bytes(roomId: string, id: string): Promise<Buffer | null> {
    if (!ATTACHMENT_ID.test(id)) { return null; }
    return this.storage.get(`${roomId}/${id}`);
  }

  /**
   * Erasure (docs/storage.md "Erasure"): every file of the customer's own room, and in
   * the other rooms (private rooms they share) the files attached for them. Returns
   * how many files went.
   */
  async eraseCustomer(customerId: string, roomIds: string[]): Promise<number> {
    let files = 0;
    for (const roomId of new Set(roomIds)) {
      const keys = await this.storage.list(roomId);
      const gone = roomId === `cc-${customerId}` ? keys : [];
      if (roomId !== `cc-${customerId}`) {
        for (const key of keys.filter((k) => k.endsWith(".json"))) {
          const found = await this.storage.get(key);
          if (found && JSON.parse(found.toString("utf8")).ownerId === customerId) { gone.push(key, key.slice(0, -".json".length)); }
        }
      }
      await this.storage.remove(gone);
      files += gone.filter((k) => !k.endsWith(".json")).length;
    }
    return files;
  }

  private sign(roomId: string, id: string, exp: number) {
    return createHmac("sha256", this.secret).update(`${roomId}/${id}:${exp}`).digest("base64url");
  }

  /** A URL valid for `ttlSeconds`; whoever holds it can fetch the file until then. */
  url(roomId: string, id: string, ttlSeconds: number): { url: string; expiresAt: number } {
    const exp = Math.floor(Date.now() / 1000) + ttlSeconds;
    return { url: `${this.baseUrl}/attachments/${roomId}/${id}?exp=${exp}&sig=${this.sign(roomId, id, exp)}`, expiresAt: exp * 1000 };
  }

  /** True when the signature is this server's and the URL has not expired. */
  verify(roomId: string, id: string, exp: string, sig: string): boolean {
    if (!/^\d{1,12}$/.test(exp) || Number(exp) * 1000 < Date.now()) { return false; }
    const expected = Buffer.from(this.sign(roomId, id, Number(exp)));
    const given = Buffer.from(String(sig));
    return given.length === expected.length && timingSafeEqual(given, expected);
  }
}

export function createAttachments(config: Config): Attachments {
  const where = config.attachmentsStorage;
  const storage = where.startsWith("s3://")
    ? new S3Storage({ bucket: where.slice("s3://".length), ...config.s3 })
    : new DiskStorage(where.replace(/^disk:/, ""));
  return new Attachments(storage, config.attachmentUrlSecret, config.publicUrl);
}
