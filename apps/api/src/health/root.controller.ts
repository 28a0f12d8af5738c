import { Controller, Get } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { APP_VERSION } from '@thumbnail/runtime';

@ApiTags('service')
@Controller()
export class RootController {
  @Get()
  @ApiOperation({ summary: 'Greeting with the running version' })
  hello() {
    return { data: `Hello from Thumbnail Generator v${APP_VERSION}` };
  }
}
