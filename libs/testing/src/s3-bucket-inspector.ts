import type * as S3 from '@aws-sdk/client-s3';

/** Where an S3 server answers and the key pair that may look into it (e.g. a `RunningMinio`). */
export interface S3Endpoint {
  endpoint: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
}

export interface InspectedObject {
  bytes: number;
  /** HEAD's `x-amz-server-side-encryption`: `AES256`, `aws:kms`, or undefined when stored in clear. */
  serverSideEncryption: string | undefined;
}

/**
 * Looks into one bucket through the S3 API with its own client, so a test checks what the
 * server holds, not what the code under test believes it wrote. The SDK is loaded on first use:
 * most suites that import @thumbnail/testing never need it.
 */
export class S3BucketInspector {
  private constructor(
    private readonly sdk: typeof S3,
    private readonly client: S3.S3Client,
    readonly bucket: string,
  ) {}

  static async open(server: S3Endpoint, bucket: string): Promise<S3BucketInspector> {
    const sdk = await import('@aws-sdk/client-s3');
    const client = new sdk.S3Client({
      endpoint: server.endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: server.credentials,
      maxAttempts: 1,
    });
    return new S3BucketInspector(sdk, client, bucket);
  }

  async exists(): Promise<boolean> {
    try {
      await this.client.send(new this.sdk.HeadBucketCommand({ Bucket: this.bucket }));
      return true;
    } catch (error) {
      if (statusOf(error) === 404) return false;
      throw error;
    }
  }

  async create(): Promise<void> {
    await this.client.send(new this.sdk.CreateBucketCommand({ Bucket: this.bucket }));
  }

  /** Every object key under `prefix`, sorted. */
  async keys(prefix = ''): Promise<string[]> {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await this.client.send(
        new this.sdk.ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token }),
      );
      for (const object of page.Contents ?? []) if (object.Key) keys.push(object.Key);
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return keys.sort();
  }

  /**
   * Ids of the multipart uploads to `key` begun and neither completed nor aborted
   * (ListMultipartUploads). MinIO lists only the uploads to the exact key it is given.
   */
  async incompleteUploads(key: string): Promise<string[]> {
    const ids: string[] = [];
    let keyMarker: string | undefined;
    let uploadIdMarker: string | undefined;
    do {
      const page = await this.client.send(
        new this.sdk.ListMultipartUploadsCommand({ Bucket: this.bucket, Prefix: key, KeyMarker: keyMarker, UploadIdMarker: uploadIdMarker }),
      );
      for (const upload of page.Uploads ?? []) if (upload.Key === key && upload.UploadId) ids.push(upload.UploadId);
      keyMarker = page.IsTruncated ? page.NextKeyMarker : undefined;
      uploadIdMarker = page.IsTruncated ? page.NextUploadIdMarker : undefined;
    } while (keyMarker);
    return ids;
  }

  /** Parts already stored for the multipart uploads in progress to `key` (ListParts). */
  async uploadedParts(key: string): Promise<number> {
    let parts = 0;
    for (const uploadId of await this.incompleteUploads(key)) {
      const listed = await this.client.send(new this.sdk.ListPartsCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId }));
      parts += listed.Parts?.length ?? 0;
    }
    return parts;
  }

  /** HEAD of one object; null when there is none. */
  async head(key: string): Promise<InspectedObject | null> {
    try {
      const head = await this.client.send(new this.sdk.HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return { bytes: head.ContentLength ?? 0, serverSideEncryption: head.ServerSideEncryption };
    } catch (error) {
      if (statusOf(error) === 404) return null;
      throw error;
    }
  }

  /** The bucket policy (JSON), or null when it has none (a private bucket). */
  async policy(): Promise<string | null> {
    try {
      return (await this.client.send(new this.sdk.GetBucketPolicyCommand({ Bucket: this.bucket }))).Policy ?? null;
    } catch (error) {
      if ((error as { name?: string }).name === 'NoSuchBucketPolicy') return null;
      throw error;
    }
  }

  /** Stores an object in clear, past the code under test (e.g. a control for an encryption check). */
  async put(key: string, body: Buffer): Promise<void> {
    await this.client.send(new this.sdk.PutObjectCommand({ Bucket: this.bucket, Key: key, Body: body }));
  }

  close(): void {
    this.client.destroy();
  }
}

function statusOf(error: unknown): number | undefined {
  return (error as { $metadata?: { httpStatusCode?: number } } | null)?.$metadata?.httpStatusCode;
}
