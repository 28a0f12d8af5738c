export { APP_VERSION } from './app-version';
export { logDestination, pinoOptions, requestIdFor } from './logger-options';
export { checkReadiness, describeFailures, type Readiness, type CheckResult } from './dependency-checks';
export { InfrastructureModule, REDIS } from './infrastructure.module';
export { onTerminate, type ShutdownLogger } from './graceful-shutdown';
export { HealthController } from './health.controller';
export { logErrorsQuietly } from './quiet-errors';
