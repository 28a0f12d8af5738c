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
