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
    expect(config.S3_FORCE_PATH_STYLE).toBe(false);
    expect(config.S3_SSE).toBeUndefined();
    expect(config.SMALL_PNG_FAST_PATH).toBe(true);
    expect(config.KEEP_ORIGINALS).toBe(false);
  });

  it('coerces numbers and flags', () => {
    const config = loadConfig({ PORT: '8080', S3_FORCE_PATH_STYLE: 'true', S3_CREATE_BUCKET: '0', SMALL_PNG_FAST_PATH: 'false', KEEP_ORIGINALS: 'yes' });
    expect(config.PORT).toBe(8080);
    expect(config.S3_FORCE_PATH_STYLE).toBe(true);
    expect(config.S3_CREATE_BUCKET).toBe(false);
    expect(config.SMALL_PNG_FAST_PATH).toBe(false);
    expect(config.KEEP_ORIGINALS).toBe(true);
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
    expect(() => loadConfig({ STORAGE_DRIVER: 'disk' })).toThrow(/STORAGE_DRIVER/);
  });
});
