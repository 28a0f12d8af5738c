import {
  AbortMultipartUploadCommand,
  type BucketLocationConstraint,
  CompleteMultipartUploadCommand,
  type CompletedPart,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { Readable } from 'node:stream';
import {
  type PutOptions,
  Storage,
  type StoredObject,
  type StoredObjectInfo,
  StorageNotFoundError,
  StorageUnavailableError,
  isAbandonedRead,
} from './storage';
import { assertValidKey } from './storage-key';

export interface S3StorageOptions {
  /** S3-compatible endpoint (MinIO...); AWS's regional endpoint when unset. */
  endpoint?: string;
  /** Endpoint clients outside the cluster reach; enables presigned URLs from `publicUrl`. */
  publicEndpoint?: string;
  region: string;
  bucket: string;
  accessKeyId: string;
  secretAccessKey: string;
  forcePathStyle: boolean;
  sse?: 'AES256' | 'aws:kms';
  /** Lets `init` create the bucket (private) when it does not exist. */
  createBucket: boolean;
  presignTtlSeconds: number;
}

// The S3 minimum for all parts but the last. One part in flight: an upload holds about one
// part in memory whatever the object's size.
const PART_SIZE = 5 * 1024 * 1024;

// A dead endpoint should fail a request in seconds, not after the SDK's defaults (no connect
// timeout). Three attempts with the standard backoff still ride out a brief blip.
const CONNECTION_TIMEOUT_MS = 3_000;
const REQUEST_TIMEOUT_MS = 30_000;
const MAX_ATTEMPTS = 3;

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
]);
const CREDENTIAL_CODES = new Set([
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'InvalidToken',
  'ExpiredToken',
  'TokenRefreshRequired',
]);

/**
 * Objects in one S3 (or S3-compatible) bucket. The only file that imports the AWS SDK.
 */
export class S3Storage extends Storage {
  private readonly client: S3Client;
  /** Signs URLs for the public endpoint's host; signing does no network I/O. */
  private readonly signer: S3Client | null;
  private readonly bucket: string;

  constructor(private readonly options: S3StorageOptions) {
    super();
    this.bucket = options.bucket;
    this.client = new S3Client(clientConfig(options, options.endpoint));
    this.signer = options.publicEndpoint ? new S3Client(clientConfig(options, options.publicEndpoint)) : null;
  }

  /**
   * Checks the bucket answers; creates it (private, the S3 default) when it is missing and
   * `createBucket` is set.
   */
  override async init(): Promise<void> {
    if ((await this.probeBucket()) === 'present') return;
    if (!this.options.createBucket) throw this.missingBucket();
    const region = this.options.region;
    try {
      await this.client.send(
        new CreateBucketCommand({
          Bucket: this.bucket,
          // us-east-1 is the one region that refuses an explicit location constraint.
          ...(region === 'us-east-1' ? {} : { CreateBucketConfiguration: { LocationConstraint: region as BucketLocationConstraint } }),
        }),
      );
    } catch (error) {
      // The api and the worker start together and may both try. Whatever the loser is told
      // (BucketAlreadyOwnedByYou, or BucketAlreadyExists on some servers), the bucket is fine
      // if we can now reach it; if another account owns the name, the probe fails too.
      const now = await this.probeBucket().catch(() => 'unreachable');
      if (now === 'present') return;
      throw this.unavailable(error) ?? unexpected(error);
    }
  }

  async put(key: string, body: Readable, options?: PutOptions): Promise<StoredObject> {
    let bodyError: unknown;
    const onBodyError = (error: unknown) => {
      bodyError ??= error;
    };
    body.on('error', onBodyError);
    try {
      assertValidKey(key);
      return { key, bytes: await this.upload(key, body, options?.contentType) };
    } catch (error) {
      body.destroy();
      // The body's own failure (client gone, upload refused) is the cause, unless it only failed
      // because the write did and we stopped reading it.
      if (bodyError !== undefined && !isAbandonedRead(bodyError)) throw bodyError;
      throw this.unavailable(error) ?? error;
    } finally {
      body.off('error', onBodyError);
    }
  }

  async get(key: string): Promise<Readable> {
    assertValidKey(key);
    const output = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key })).catch((error: unknown) => {
      throw this.objectError(error, key);
    });
    if (!(output.Body instanceof Readable)) throw new Error(`GetObject ${key} returned no readable body`);
    return output.Body;
  }

  async getBuffer(key: string): Promise<Buffer> {
    assertValidKey(key);
    try {
      const output = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      if (!output.Body) throw new Error(`GetObject ${key} returned no body`);
      const bytes = await output.Body.transformToByteArray();
      return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    } catch (error) {
      throw this.objectError(error, key);
    }
  }

  async head(key: string): Promise<StoredObjectInfo | null> {
    assertValidKey(key);
    try {
      const output = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      if (output.ContentLength === undefined || !output.ETag || !output.LastModified) {
        throw new Error(`HeadObject ${key} returned no size, ETag or Last-Modified`);
      }
      return { bytes: output.ContentLength, etag: output.ETag, lastModified: output.LastModified };
    } catch (error) {
      if (isObjectMissing(error)) return null;
      throw this.unavailable(error) ?? error;
    }
  }

  async delete(key: string): Promise<void> {
    assertValidKey(key);
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
    } catch (error) {
      // S3 answers 204 for a missing key; some compatible servers answer NoSuchKey.
      if (isObjectMissing(error)) return;
      throw this.unavailable(error) ?? error;
    }
  }

  async publicUrl(key: string): Promise<string | null> {
    assertValidKey(key);
    if (!this.signer) return null;
    return getSignedUrl(this.signer, new GetObjectCommand({ Bucket: this.bucket, Key: key }), {
      expiresIn: this.options.presignTtlSeconds,
    });
  }

  /** Buckets have no free space to read; a full MinIO disk shows as failed writes (503). */
  async freeBytes(): Promise<null> {
    return null;
  }

  async ping(): Promise<void> {
    if ((await this.probeBucket()) === 'missing') throw this.missingBucket();
  }

  async close(): Promise<void> {
    this.client.destroy();
    this.signer?.destroy();
  }

  /**
   * Streams `body` as a multipart upload, one part at a time, through a single part buffer, so
   * an upload holds about one part (5 MiB) whatever its size; a body that fits in one part
   * becomes a plain PutObject. On any failure the multipart upload is aborted, so no object
   * appears and no parts are kept.
   *
   * Not lib-storage's `Upload`: its stream chunker keeps the previous part and the chunks of the
   * current one alive while a part is sent, about three parts (15+ MiB) per upload even with
   * queueSize 1, which the contract's memory bound catches.
   */
  private async upload(key: string, body: Readable, contentType: string | undefined): Promise<number> {
    const object = { Bucket: this.bucket, Key: key };
    const created = { ...object, ContentType: contentType, ServerSideEncryption: this.options.sse };
    const parts: CompletedPart[] = [];
    let uploadId: string | undefined;
    // allocUnsafe does not touch the pages, so a small body only makes the few it fills resident.
    const part = Buffer.allocUnsafe(PART_SIZE);
    let filled = 0;
    let total = 0;

    const sendPart = async (data: Buffer) => {
      if (uploadId === undefined) {
        const { UploadId } = await this.client.send(new CreateMultipartUploadCommand(created));
        if (!UploadId) throw new Error(`CreateMultipartUpload ${key} returned no UploadId`);
        uploadId = UploadId;
      }
      const PartNumber = parts.length + 1;
      const { ETag } = await this.client.send(new UploadPartCommand({ ...object, UploadId: uploadId, PartNumber, Body: data }));
      if (!ETag) throw new Error(`UploadPart ${key} #${PartNumber} returned no ETag`);
      parts.push({ PartNumber, ETag });
    };

    try {
      // The loop pulls no chunk while a part is being sent (backpressure), and a part is only
      // sent once it has been acknowledged, so refilling the buffer afterwards is safe.
      for await (const chunk of body) {
        let bytes = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
        total += bytes.length;
        while (bytes.length > 0) {
          // Sent only once more data exists: the last part is never empty, and a body of
          // exactly one part stays a single PutObject.
          if (filled === PART_SIZE) {
            await sendPart(part);
            filled = 0;
          }
          const copied = bytes.copy(part, filled);
          filled += copied;
          bytes = bytes.subarray(copied);
        }
      }
      if (uploadId === undefined) {
        await this.client.send(new PutObjectCommand({ ...created, Body: part.subarray(0, filled) }));
        return total;
      }
      await sendPart(part.subarray(0, filled));
      await this.client.send(
        new CompleteMultipartUploadCommand({ ...object, UploadId: uploadId, MultipartUpload: { Parts: parts } }),
      );
      return total;
    } catch (error) {
      if (uploadId !== undefined) {
        // The caller needs the original error, not the abort's. An abort that fails (endpoint
        // gone or refusing us) leaves parts that are never visible as an object; a bucket
        // lifecycle rule (AbortIncompleteMultipartUpload) removes them.
        await this.client
          .send(new AbortMultipartUploadCommand({ ...object, UploadId: uploadId }))
          .catch(() => undefined);
      }
      throw error;
    }
  }

  /** HeadBucket; any failure other than "no such bucket" becomes a StorageUnavailableError. */
  private async probeBucket(): Promise<'present' | 'missing'> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
      return 'present';
    } catch (error) {
      if (statusOf(error) === 404 || errorName(error) === 'NoSuchBucket') return 'missing';
      const status = statusOf(error);
      if (status !== undefined && status >= 400 && status < 500) {
        // A HEAD response has no body, so a 403 or 400 carries no error code. Ask once more
        // with a request that needs the same permission (s3:ListBucket) and does return one,
        // to tell a wrong key from a wrong secret from a missing permission.
        const detailed = await this.client
          .send(new ListObjectsV2Command({ Bucket: this.bucket, MaxKeys: 1 }))
          .then(() => error)
          .catch((detail: unknown) => detail);
        throw this.unavailable(detailed) ?? this.unavailable(error) ?? unexpected(error);
      }
      throw this.unavailable(error) ?? unexpected(error);
    }
  }

  private missingBucket(): StorageUnavailableError {
    return new StorageUnavailableError(`bucket ${this.bucket} does not exist`);
  }

  private objectError(error: unknown, key: string): unknown {
    if (isObjectMissing(error)) return new StorageNotFoundError(key);
    return this.unavailable(error) ?? error;
  }

  /**
   * Errors that say the backend cannot serve us now (network, timeouts, 5xx, credentials,
   * missing bucket) as a StorageUnavailableError naming the reason; anything else is null.
   */
  private unavailable(error: unknown): StorageUnavailableError | null {
    const network = networkCode(error);
    if (network) return new StorageUnavailableError(`endpoint unreachable (${network})`, { cause: error });
    const name = errorName(error);
    if (name === 'TimeoutError') return new StorageUnavailableError('endpoint unreachable (timed out)', { cause: error });
    if (name === 'NoSuchBucket') return new StorageUnavailableError(`bucket ${this.bucket} does not exist`, { cause: error });
    if (name && CREDENTIAL_CODES.has(name)) return new StorageUnavailableError(`credentials rejected (${name})`, { cause: error });
    const status = statusOf(error);
    if (name === 'AccessDenied' || status === 403) {
      return new StorageUnavailableError(`access denied to bucket ${this.bucket} (${name ?? 403})`, { cause: error });
    }
    if (status !== undefined && status >= 500) {
      // The server's own words, when it gave some (MinIO without a KMS: "Server side encryption
      // specified but KMS is not configured"), are what an operator needs to fix it.
      const answer = [`HTTP ${status}`, name].filter(Boolean).join(' ');
      const said = serverMessage(error);
      return new StorageUnavailableError(`endpoint error (${answer}${said ? `: ${said}` : ''})`, { cause: error });
    }
    return null;
  }
}

function clientConfig(options: S3StorageOptions, endpoint: string | undefined): S3ClientConfig {
  return {
    endpoint,
    region: options.region,
    forcePathStyle: options.forcePathStyle,
    credentials: { accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey },
    retryMode: 'standard',
    maxAttempts: MAX_ATTEMPTS,
    requestHandler: {
      connectionTimeout: CONNECTION_TIMEOUT_MS,
      requestTimeout: REQUEST_TIMEOUT_MS,
      throwOnRequestTimeout: true,
    },
    // The SDK's default CRC32 checksum headers are refused by several S3-compatible servers;
    // on AWS itself (no custom endpoint) keep them.
    ...(endpoint ? { requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' } : {}),
  };
}

interface SdkErrorShape {
  name?: unknown;
  code?: unknown;
  errors?: unknown;
  $metadata?: { httpStatusCode?: number };
}

function errorName(error: unknown): string | undefined {
  const name = (error as SdkErrorShape | null)?.name;
  return typeof name === 'string' ? name : undefined;
}

function statusOf(error: unknown): number | undefined {
  return (error as SdkErrorShape | null)?.$metadata?.httpStatusCode;
}

/** ECONNREFUSED and friends, also when Node reports them per address in an AggregateError. */
function networkCode(error: unknown): string | undefined {
  const shape = error as SdkErrorShape | null;
  if (typeof shape?.code === 'string' && NETWORK_CODES.has(shape.code)) return shape.code;
  if (Array.isArray(shape?.errors)) {
    for (const inner of shape.errors) {
      const code = networkCode(inner);
      if (code) return code;
    }
  }
  return undefined;
}

/** The error's message when the server sent one (the SDK otherwise repeats the code or says UnknownError). */
function serverMessage(error: unknown): string | undefined {
  const message = (error as { message?: unknown } | null)?.message;
  if (typeof message !== 'string' || !message || message === errorName(error) || message === 'UnknownError') return undefined;
  return message;
}

function isObjectMissing(error: unknown): boolean {
  const name = errorName(error);
  return name === 'NoSuchKey' || name === 'NotFound' || (statusOf(error) === 404 && name !== 'NoSuchBucket');
}

function unexpected(error: unknown): StorageUnavailableError {
  const status = statusOf(error);
  return new StorageUnavailableError(`unexpected answer (${errorName(error) ?? 'error'}${status ? `, HTTP ${status}` : ''})`, {
    cause: error,
  });
}
