import { type DynamicModule, Global, Module } from '@nestjs/common';
import type { Env } from './app-config';

/** Injection token for the parsed, frozen configuration. */
export const APP_CONFIG = Symbol('APP_CONFIG');

@Global()
@Module({})
export class ConfigModule {
  static forRoot(config: Env): DynamicModule {
    return { module: ConfigModule, providers: [{ provide: APP_CONFIG, useValue: config }], exports: [APP_CONFIG] };
  }
}
