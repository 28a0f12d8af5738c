export { ENV_SCHEMA_PARTS, envSchema, type Env } from './app-config';
export { ConfigError, exitOnConfigError, loadConfig, loadConfigOrExit } from './load-config';
export { APP_CONFIG, ConfigModule } from './config.module';
export {
  DEFAULT_PRESET,
  MAX_PRESET_SIDE,
  MAX_PRESETS,
  PRESET_FITS,
  PRESET_FORMATS,
  presetCatalogue,
  type PresetCatalogue,
  type PresetFit,
  type PresetFormat,
  type ThumbnailPreset,
} from './thumbnail-presets';
