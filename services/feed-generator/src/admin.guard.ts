import { timingSafeEqual } from 'node:crypto';
import { Inject, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import type { AppConfig } from '#lib/config';
import { APP_CONFIG } from '#lib/platform';

/** The admin token was missing or wrong, or no token is configured. */
export class AdminAuthError extends Error {
  override name = 'AdminAuthError';
}

const BEARER = /^Bearer\s+(\S+)$/i;

/** True when the request carries the configured admin token (constant-time comparison). */
export function hasAdminToken(request: FastifyRequest, token: string | undefined): boolean {
  const match = BEARER.exec(request.headers.authorization ?? '');
  if (!token || !match) return false;
  const given = Buffer.from(match[1]!);
  const expected = Buffer.from(token);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** Guards the admin API: `Authorization: Bearer <ADMIN_TOKEN>`. */
@Injectable()
export class AdminGuard implements CanActivate {
  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {}

  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    if (!this.config.feedGenerator.adminToken) throw new AdminAuthError('the admin API is disabled: set ADMIN_TOKEN');
    if (!hasAdminToken(request, this.config.feedGenerator.adminToken)) throw new AdminAuthError('a valid admin token is required');
    return true;
  }
}
