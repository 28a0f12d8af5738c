export { ENV_SCHEMA_PARTS, envSchema, type Env } from './app-config';
export { ConfigError, exitOnConfigError, loadConfig, loadConfigOrExit } from './load-config';
export { APP_CONFIG, ConfigModule } from './config.module';
