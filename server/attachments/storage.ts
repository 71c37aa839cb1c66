import { mkdir, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { DeleteObjectsCommand, GetObjectCommand, ListObjectsV2Command, NoSuchKey, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";

/**
 * Where attachment bytes live: a directory on disk (one node; `./data/attachments`
 * by default) or an S3-compatible bucket (a cluster: every node reads what any
 * node stored). Keys are `<roomId>/<attachmentId>` and `…/<attachmentId>.json` for the
 * description; both are written once and never changed.
 */
export interface BlobStorage {
  put(key: string, data: Buffer, type: string): Promise<void>;
  /** null when there is no such key */
  get(key: string): Promise<Buffer | null>;
  /** The keys under `<roomId>/`. */
  list(roomId: string): Promise<string[]>;
  /** Removes keys; unknown ones are no error. */
  remove(keys: string[]): Promise<void>;
  describe(): string;
}

export class DiskStorage implements BlobStorage {
  constructor(private readonly root: string) {}

  private file(key: string) {
    // keys are built from ids ([A-Za-z0-9_-]) and "/": never a path out of the root
    if (!/^[A-Za-z0-9_-]+(\/[A-Za-z0-9_.-]+)*$/.test(key) || key.includes("..")) { throw new Error(`bad attachment key ${key}`); }
    return path.join(this.root, key);
  }

  async put(key: string, data: Buffer) {
    const file = this.file(key);
    await mkdir(path.dirname(file), { recursive: true });
    // written under a temporary name and renamed: a reader never sees half a file
    const temp = `${file}.${process.pid}.${Date.now()}.tmp`;
    await writeFile(temp, data);
    await rename(temp, file);
  }

  async get(key: string) {
    try {
      return await readFile(this.file(key));
    } catch (e: any) {
      if (e?.code === "ENOENT") { return null; }
      throw e;
    }
  }

  async list(roomId: string) {
    try {
      return (await readdir(this.file(roomId))).filter((name) => !name.endsWith(".tmp")).map((name) => `${roomId}/${name}`);
    } catch (e: any) {
      if (e?.code === "ENOENT") { return []; }
      throw e;
    }
  }

  async remove(keys: string[]) {
    for (const key of keys) { await rm(this.file(key), { force: true }); }
  }

  describe() { return `disk:${this.root}`; }
}

export interface S3Options {
  bucket: string;
  endpoint?: string;
  region: string;
  accessKeyId?: string;
  secretAccessKey?: string;
  forcePathStyle: boolean;
}

export class S3Storage implements BlobStorage {
  private readonly client: S3Client;

  constructor(private readonly options: S3Options) {
    this.client = new S3Client({
      region: options.region,
      ...(options.endpoint ? { endpoint: options.endpoint } : {}),
      forcePathStyle: options.forcePathStyle,
      ...(options.accessKeyId ? { credentials: { accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey ?? "" } } : {}),
      // checksums only where S3 requires them: S3-compatible servers do not all take the newer trailers
      requestChecksumCalculation: "WHEN_REQUIRED",
      responseChecksumValidation: "WHEN_REQUIRED",
    });
  }

  async put(key: string, data: Buffer, type: string) {
    await this.client.send(new PutObjectCommand({ Bucket: this.options.bucket, Key: key, Body: data, ContentType: type, ContentLength: data.length }));
  }

  async get(key: string) {
    try {
      const answer = await this.client.send(new GetObjectCommand({ Bucket: this.options.bucket, Key: key }));
      return Buffer.from(await answer.Body!.transformToByteArray());
    } catch (e: any) {
      if (e instanceof NoSuchKey || e?.name === "NoSuchKey" || e?.$metadata?.httpStatusCode === 404) { return null; }
      throw e;
    }
  }

  async list(roomId: string) {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await this.client.send(new ListObjectsV2Command({ Bucket: this.options.bucket, Prefix: `${roomId}/`, ContinuationToken: token }));
      keys.push(...(page.Contents ?? []).map((o) => o.Key!).filter(Boolean));
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return keys;
  }

  async remove(keys: string[]) {
    for (let i = 0; i < keys.length; i += 1000) {
      const batch = keys.slice(i, i + 1000);
      // DeleteObjects is the one S3 call that requires a checksum (Content-MD5 or a checksum header)
      await this.client.send(new DeleteObjectsCommand({ Bucket: this.options.bucket, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true } }));
    }
  }

  describe() { return `s3://${this.options.bucket}`; }
}
