export * from './free-port';
export * from './redis-server';
export * from './s3rver-harness';
export * from './image-fixtures';
export * from './app-process';
export * from './png-chunks';
export * from './process-stats';
export * from './small-disk';
