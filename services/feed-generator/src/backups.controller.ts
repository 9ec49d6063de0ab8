import { Body, Controller, Get, HttpCode, Inject, Post, UseGuards } from '@nestjs/common';
import { z } from 'zod';
import { BackupNameError, StoreBackups } from '#lib/clickhouse';
import { AdminGuard } from './admin.guard.js';
import { parseBody } from './xrpc/request-input.js';
import { InvalidRequestError } from './xrpc/xrpc.errors.js';

const BackupInput = z
  .object({
    name: z.string().max(1_000).optional(),
    base: z.string().max(1_000).optional(),
  })
  .strict()
  .optional();

/**
 * Operators' backups of the store, while it serves: `POST /api/admin/backups` starts one
 * (ClickHouse writes it in the background), `GET /api/admin/backups` says how each ended.
 * `npm run restore` restores one with every process stopped.
 */
@Controller('api/admin/backups')
@UseGuards(AdminGuard)
export class BackupsController {
  constructor(@Inject(StoreBackups) private readonly backups: StoreBackups) {}

  @Get()
  async list() {
    return { backups: await this.backups.list() };
  }

  @Post()
  @HttpCode(202)
  async start(@Body() body: unknown) {
    const { name, base } = parseBody(BackupInput, body) ?? {};
    if (name !== undefined && (await this.backups.list()).some((backup) => backup.kind === 'backup' && backup.name === name && backup.state !== 'failed')) {
      throw new InvalidRequestError(`a backup named ${name} exists already`);
    }
    try {
      return { backup: await this.backups.start({ name, base }) };
    } catch (error) {
      if (error instanceof BackupNameError) throw new InvalidRequestError(error.message);
      throw error;
    }
  }
}
