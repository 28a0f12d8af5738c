import { Controller, Get, Res } from '@nestjs/common';
import { ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { PrometheusController } from '@willsoto/nestjs-prometheus';

/** `/metrics`, as the Prometheus module serves it, described in the API's OpenAPI document. */
@ApiTags('service')
@Controller()
export class MetricsController extends PrometheusController {
  @Get()
  @ApiOperation({ operationId: 'getMetrics', summary: 'Prometheus metrics' })
  @ApiResponse({
    status: 200,
    description: 'The text exposition format (version 0.0.4).',
    content: { 'text/plain': { schema: { type: 'string' } } },
  })
  override index(@Res({ passthrough: true }) response: unknown): Promise<string> {
    return super.index(response);
  }
}
