import { Controller, Get } from '@nestjs/common';

/** Liveness: the process serves HTTP. */
@Controller()
export class HealthController {
  @Get('health')
  health(): { status: 'ok' } {
    return { status: 'ok' };
  }
}
