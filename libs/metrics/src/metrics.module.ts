import { type DynamicModule, Global, Module } from '@nestjs/common';
import { PrometheusModule } from '@willsoto/nestjs-prometheus';
import { apiMetricProviders, workerMetricProviders } from './metric-providers';
import { MetricsController } from './metrics.controller';

/**
 * `/metrics` (prom-client's default process and Node.js metrics included) plus the app's own
 * meters, registered once and injectable anywhere with `@InjectMetric(METRICS.x)`.
 */
@Global()
@Module({})
export class MetricsModule {
  static forApi(): DynamicModule {
    return MetricsModule.with(apiMetricProviders());
  }

  static forWorker(): DynamicModule {
    return MetricsModule.with(workerMetricProviders());
  }

  private static with(providers: ReturnType<typeof apiMetricProviders>): DynamicModule {
    return {
      module: MetricsModule,
      imports: [PrometheusModule.register({ path: '/metrics', controller: MetricsController, defaultMetrics: { enabled: true } })],
      providers,
      exports: providers,
    };
  }
}
