/** The key is not one the jobs lib builds; nothing was read or written. */
export class InvalidStorageKeyError extends Error {
  constructor(readonly key: unknown) {
    super(`Invalid storage key ${JSON.stringify(key)}: expected <prefix>/<name>`);
    this.name = 'InvalidStorageKeyError';
  }
}

// `<prefix>/<name>` as built by the jobs lib (`originals/<uuid>`, `thumbnails/<uuid>.png`).
// The prefix cannot start with a dot, which keeps the disk adapter's `.tmp` directory out of
// reach of any key.
const KEY = /^[a-z]+\/[A-Za-z0-9._-]{1,200}$/;

/** Refuses anything that could name a path outside the storage root (or a surprising object). */
export function assertValidKey(key: unknown): asserts key is string {
  if (typeof key !== 'string' || !KEY.test(key) || key.includes('..') || key.endsWith('/.')) {
    throw new InvalidStorageKeyError(key);
  }
}
