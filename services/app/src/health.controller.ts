import { Controller, Get, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { ReadinessService } from '#lib/platform';

/**
 * Health for orchestrators and load balancers on the public port, in every role: `/health`
 * (liveness: the process answers) and `/ready` (readiness, as a status code: 200 or 503).
 *
 * @NOTE The bodies say nothing but the status: the report of each check names feeds and
 * internals and costs queries, so it lives on the ops port (`ops.server.ts`) with `/status` and
 * `/metrics`. Readiness itself is computed at most once a second whoever asks.
 */
@Controller()
export class HealthController {
  constructor(private readonly readiness: ReadinessService) {}

  @Get('health')
  health(): { status: 'ok' } {
    return { status: 'ok' };
  }

  @Get('ready')
  async ready(@Res({ passthrough: true }) reply: FastifyReply): Promise<{ status: 'ready' | 'not ready' }> {
    const { ready } = await this.readiness.check();
    void reply.status(ready ? 200 : 503);
    return { status: ready ? 'ready' : 'not ready' };
  }
}
