import { ConfigError, loadConfig } from './load-config';

describe('loadConfig', () => {
  it('gives embedded defaults for an empty environment', () => {
    const config = loadConfig({});
    expect(config.PORT).toBe(3000);
    expect(config.STORAGE_DRIVER).toBe('fs');
    expect(config.JOB_STORE).toBe('redis');
    expect(config.MAX_UPLOAD_BYTES).toBe(20 * 1024 * 1024);
    expect(config.MIN_FREE_STORAGE_BYTES).toBe(1024 * 1024 * 1024);
    expect(config.LIMIT_INPUT_PIXELS).toBe(40_000_000);
    expect(config.SMALL_PNG_FAST_PATH).toBe(true);
    expect(config.KEEP_ORIGINALS).toBe(false);
    expect(config).toMatchObject({ STORAGE_DIR: './data/files' });
  });

  it('reads only the chosen drivers’ variables, with their defaults', () => {
    const config = loadConfig({ STORAGE_DRIVER: 's3', S3_ACCESS_KEY_ID: 'id', S3_SECRET_ACCESS_KEY: 'secret', STORAGE_DIR: '/ignored' });
    if (config.STORAGE_DRIVER !== 's3') throw new Error('expected the s3 branch');
    expect(config).toMatchObject({ S3_REGION: 'us-east-1', S3_BUCKET: 'thumbnails', S3_FORCE_PATH_STYLE: false, PRESIGN_TTL_SECONDS: 900 });
    expect(config.S3_SSE).toBeUndefined();
    expect(config).not.toHaveProperty('STORAGE_DIR');
    expect(loadConfig({ S3_BUCKET: 'NOT VALID' })).not.toHaveProperty('S3_BUCKET');
    expect(loadConfig({ JOB_STORE: 'mongo', MONGO_URL: 'mongodb://db/x' })).toMatchObject({ MONGO_URL: 'mongodb://db/x' });
  });

  it('coerces numbers and flags', () => {
    const config = loadConfig({
      PORT: '8080',
      STORAGE_DRIVER: 's3',
      S3_ACCESS_KEY_ID: 'id',
      S3_SECRET_ACCESS_KEY: 'secret',
      S3_FORCE_PATH_STYLE: 'true',
      S3_CREATE_BUCKET: '0',
      SMALL_PNG_FAST_PATH: 'false',
      KEEP_ORIGINALS: 'yes',
    });
    expect(config).toMatchObject({ PORT: 8080, S3_FORCE_PATH_STYLE: true, S3_CREATE_BUCKET: false, SMALL_PNG_FAST_PATH: false, KEEP_ORIGINALS: true });
  });

  it('names the variable and the value that is wrong', () => {
    let caught: unknown;
    try {
      loadConfig({ PORT: 'eighty', REDIS_URL: 'http://x' });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    const message = (caught as ConfigError).message;
    expect(message).toMatch(/PORT must be a number \(got "eighty"\)/);
    expect(message).toMatch(/REDIS_URL must be a URL starting with redis:\/\//);
  });

  it('takes 0 for MIN_FREE_STORAGE_BYTES (no reserve) and refuses a negative one', () => {
    expect(loadConfig({ MIN_FREE_STORAGE_BYTES: '0' }).MIN_FREE_STORAGE_BYTES).toBe(0);
    expect(() => loadConfig({ MIN_FREE_STORAGE_BYTES: '-1' })).toThrow(/MIN_FREE_STORAGE_BYTES must be at least 0/);
  });

  it('trusts no proxy by default; takes a hop count or addresses and ranges, and refuses anything else', () => {
    expect(loadConfig({}).TRUST_PROXY).toBeUndefined();
    expect(loadConfig({ TRUST_PROXY: '0' }).TRUST_PROXY).toBeUndefined();
    expect(loadConfig({ TRUST_PROXY: '1' }).TRUST_PROXY).toBe(1);
    expect(loadConfig({ TRUST_PROXY: ' 10.0.0.0/8, 127.0.0.1 ,fd00::/8,uniquelocal' }).TRUST_PROXY).toEqual([
      '10.0.0.0/8',
      '127.0.0.1',
      'fd00::/8',
      'uniquelocal',
    ]);
    for (const wrong of ['true', '10.0.0.0/33', 'proxy.example.com', '10.0.0.1,', '::1/129', '1.2.3.4/8/8', '-1']) {
      expect(() => loadConfig({ TRUST_PROXY: wrong }), wrong).toThrow(/TRUST_PROXY must be a number of proxy hops or comma-separated IP addresses/);
    }
  });

  it('bounds the request timeouts', () => {
    expect(loadConfig({})).toMatchObject({ REQUEST_TIMEOUT_MS: 300_000, BODY_IDLE_TIMEOUT_MS: 30_000 });
    expect(() => loadConfig({ REQUEST_TIMEOUT_MS: '0' })).toThrow(/REQUEST_TIMEOUT_MS must be at least 1000/);
    expect(() => loadConfig({ BODY_IDLE_TIMEOUT_MS: '50' })).toThrow(/BODY_IDLE_TIMEOUT_MS must be at least 100/);
  });

  it('accepts API key digests and refuses anything else', () => {
    const digest = 'a'.repeat(64);
    expect(loadConfig({ API_KEYS: ` ${digest.toUpperCase()}, ${digest.replace(/a$/, 'b')} ` }).API_KEYS).toEqual([
      digest,
      digest.replace(/a$/, 'b'),
    ]);
    expect(loadConfig({}).API_KEYS).toEqual([]);
    expect(() => loadConfig({ API_KEYS: 'my-secret-key' })).toThrow(/API_KEYS must be comma-separated SHA-256 hex digests/);
  });

  it('requires the settings a chosen driver needs', () => {
    expect(() => loadConfig({ STORAGE_DRIVER: 's3' })).toThrow(/S3_ACCESS_KEY_ID is required when STORAGE_DRIVER=s3/);
    expect(() => loadConfig({ JOB_STORE: 'mongo' })).toThrow(/MONGO_URL is required when JOB_STORE=mongo/);
    expect(() => loadConfig({ STORAGE_DRIVER: 's3', S3_ACCESS_KEY_ID: 'id' })).toThrow(/S3_SECRET_ACCESS_KEY is required when STORAGE_DRIVER=s3/);
    expect(() => loadConfig({ JOB_STORE: 'mongo', MONGO_URL: 'http://db' })).toThrow(/MONGO_URL must be a URL starting with mongodb:\/\//);
    expect(() => loadConfig({ STORAGE_DRIVER: 'disk' })).toThrow(/STORAGE_DRIVER must be fs or s3 \(got "disk"\)/);
    expect(() => loadConfig({ JOB_STORE: 'postgres' })).toThrow(/JOB_STORE must be redis or mongo/);
  });
});

describe('webhook and retry settings', () => {
  const secret = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;

  it('has defaults that keep webhooks off and retries possible for a day', () => {
    expect(loadConfig({})).toMatchObject({
      WEBHOOK_ALLOWED_HOSTS: [],
      WEBHOOK_TIMEOUT_MS: 10_000,
      WEBHOOK_ATTEMPTS: 14,
      WEBHOOK_BACKOFF_MS: 10_000,
      IDEMPOTENCY_RETENTION_HOURS: 24,
      RETRY_WINDOW_HOURS: 24,
    });
    expect(loadConfig({}).WEBHOOK_SECRET).toBeUndefined();
  });

  it('takes a Standard Webhooks secret and host patterns', () => {
    const config = loadConfig({
      WEBHOOK_SECRET: secret,
      PUBLIC_URL: 'https://thumbs.example.com',
      WEBHOOK_ALLOWED_HOSTS: ' Hooks.Example.com, *.internal.example.com ,10.0.0.7,[fd00::7]',
    });
    expect(config.WEBHOOK_SECRET).toBe(secret);
    expect(config.WEBHOOK_ALLOWED_HOSTS).toEqual(['hooks.example.com', '*.internal.example.com', '10.0.0.7', '[fd00::7]']);
  });

  it('refuses a malformed secret without repeating it', () => {
    for (const bad of ['s3cr3t', `whsec_${Buffer.alloc(8).toString('base64')}`, 'whsec_!!!']) {
      let message = '';
      try {
        loadConfig({ WEBHOOK_SECRET: bad, PUBLIC_URL: 'https://x.example' });
      } catch (error) {
        message = (error as Error).message;
      }
      expect(message).toMatch(/WEBHOOK_SECRET must be whsec_ followed by the base64 of 24 to 64 random bytes/);
      expect(message).not.toContain(bad);
    }
  });

  it('refuses host patterns that are not hosts', () => {
    for (const bad of ['https://hooks.example.com', 'hooks.example.com/path', '*', 'a..b', '*.10.0.0.1:80']) {
      expect(() => loadConfig({ WEBHOOK_ALLOWED_HOSTS: bad })).toThrow(/WEBHOOK_ALLOWED_HOSTS must be comma-separated host names/);
    }
  });

  it('names what webhooks need', () => {
    expect(() => loadConfig({ WEBHOOK_URL: 'https://hooks.example.com/in', PUBLIC_URL: 'https://x.example' })).toThrow(
      /WEBHOOK_SECRET is required when WEBHOOK_URL is set/,
    );
    expect(() => loadConfig({ WEBHOOK_SECRET: secret })).toThrow(/PUBLIC_URL is required when WEBHOOK_SECRET is set/);
    const s3 = { STORAGE_DRIVER: 's3', S3_ACCESS_KEY_ID: 'id', S3_SECRET_ACCESS_KEY: 'key', S3_PUBLIC_ENDPOINT: 'https://files.example.com' };
    expect(loadConfig({ ...s3, WEBHOOK_SECRET: secret }).WEBHOOK_SECRET).toBe(secret);
  });
});
