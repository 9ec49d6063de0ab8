import 'reflect-metadata';
import { Controller, Get, Injectable, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { hello } from '#lib/domain';

@Injectable()
export class Svc { say(): string { return hello('nest'); } }

@Controller()
export class Ctl {
  constructor(private readonly svc: Svc) {}
  @Get('/x') x(): { m: string } { return { m: this.svc.say() }; }
}
@Module({ controllers: [Ctl], providers: [Svc] })
class AppModule {}
const app = await NestFactory.create<NestFastifyApplication>(AppModule, new FastifyAdapter(), { logger: false });
await app.listen(3999, '127.0.0.1');
const r = await fetch('http://127.0.0.1:3999/x');
console.log(await r.text());
await app.close();
