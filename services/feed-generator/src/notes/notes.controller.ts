import { Body, Controller, Get, HttpCode, Post, Query, Res, UseGuards } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import { AdminGuard } from '../admin.guard.js';
import { integerParam, parseBody, parseParams } from '../xrpc/request-input.js';
import { notesPage, NOTES_PAGE_POLICY } from './notes.page.js';
import { isPostUri, MAX_QUEUE, NotesService, type NotesOverview, type PostNotes } from './notes.service.js';

const postUri = z
  .string({ required_error: 'must be the at-uri of a post', invalid_type_error: 'must be the at-uri of a post' })
  .max(1_000, 'must be the at-uri of a post')
  .refine(isPostUri, 'must be the at-uri of a post');

const PostParams = z.object({ post: postUri });
const RequestsParams = z.object({ limit: integerParam({ min: 1, max: MAX_QUEUE, fallback: 100 }) });
const RequestBody = z.object({ post: postUri });

/**
 * Context notes, public: `/notes?post=<at-uri>` as a page and `/api/notes?post=<at-uri>` as JSON
 * (every note on the post with its status and scores, and the status changes), and the queue of
 * posts waiting for a note (`/api/notes/requests`).
 */
@Controller()
export class NotesController {
  constructor(private readonly notes: NotesService) {}

  @Get('notes')
  async page(@Query() query: unknown, @Res() reply: FastifyReply): Promise<void> {
    const { post } = parseParams(PostParams, query);
    const body = notesPage(await this.notes.onPost(post), `/api/notes?post=${encodeURIComponent(post)}`);
    void reply
      .headers({
        'content-security-policy': NOTES_PAGE_POLICY,
        'x-content-type-options': 'nosniff',
        'referrer-policy': 'no-referrer',
        'x-frame-options': 'DENY',
        'cache-control': 'no-cache',
      })
      .type('text/html; charset=utf-8')
      .send(body);
  }

  @Get('api/notes')
  onPost(@Query() query: unknown): Promise<PostNotes> {
    return this.notes.onPost(parseParams(PostParams, query).post);
  }

  @Get('api/notes/requests')
  async requests(@Query() query: unknown) {
    return { requested: await this.notes.requested(parseParams(RequestsParams, query).limit) };
  }
}

/** The console's notes panel, and the console action that asks for a note on a post. */
@Controller('api/admin')
@UseGuards(AdminGuard)
export class NotesAdminController {
  constructor(private readonly notes: NotesService) {}

  @Get('console/notes')
  overview(): Promise<NotesOverview> {
    return this.notes.overview();
  }

  @Post('notes/requests')
  @HttpCode(202)
  async request(@Body() body: unknown): Promise<{ post: string }> {
    const { post } = parseBody(RequestBody, body ?? {});
    await this.notes.request(post);
    return { post };
  }
}
