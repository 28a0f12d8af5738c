import { skipWithoutTool } from '@thumbnail/testing';

export type StorageDriver = 'fs' | 's3';

/**
 * `describe.each` over both storage drivers (`%s` in `name` is the driver). The S3 run stores in
 * MinIO, which scripts/tools.sh builds; where it is not built that run is skipped, saying why.
 */
export function describeEachStorage(name: string, body: (driver: StorageDriver) => void): void {
  describe.each(['fs'] as const)(name, body);
  describe.skipIf(skipWithoutTool('minio')).each(['s3'] as const)(name, body);
}
