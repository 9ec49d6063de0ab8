import { Controller, Get, Header } from '@nestjs/common';
import prom from 'prom-client';
import { Metrics } from './metrics.js';

/**
 * `GET /metrics` in every role, for Prometheus. Unauthenticated, like `/health`: serve it on the
 * cluster network, not to the internet (it names feeds and counts, nothing about viewers).
 */
@Controller()
export class MetricsController {
  constructor(private readonly metrics: Metrics) {}

  @Get('metrics')
  @Header('content-type', prom.Registry.PROMETHEUS_CONTENT_TYPE)
  @Header('cache-control', 'no-store')
  scrape(): Promise<string> {
    return this.metrics.scrape();
  }
}
