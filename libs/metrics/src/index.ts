export { METRICS, QUEUE_STATES, type QueueState } from './metric-names';
export { apiMetricProviders, workerMetricProviders } from './metric-providers';
export { registerQueueDepthGauge } from './queue-depth-gauge';
export { MetricsController } from './metrics.controller';
export { MetricsModule } from './metrics.module';
export { InjectMetric, getToken as metricToken } from '@willsoto/nestjs-prometheus';
