import { Controller, Get } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { APP_VERSION } from '@thumbnail/runtime';
import { ApiResponses, jsonResponse } from '../openapi/api-responses';
import { GREETING_BODY } from '../openapi/api-schemas';

@ApiTags('service')
@Controller()
export class RootController {
  @Get()
  @ApiOperation({ operationId: 'getGreeting', summary: 'Greeting with the running version' })
  @ApiResponses(jsonResponse(200, 'The greeting.', GREETING_BODY))
  hello() {
    return { data: `Hello from Thumbnail Generator v${APP_VERSION}` };
  }
}
