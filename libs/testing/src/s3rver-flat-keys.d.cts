import type S3rver from 's3rver';

export declare function keepPrefixFolders(s3rver: S3rver): void;
