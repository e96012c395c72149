import { Controller, Get, Header } from '@nestjs/common';
import { ContractFiles } from './contract-files';

/**
 * The wire contract, as `npm run generate` wrote it: `GET /contract/asyncapi.yaml` (AsyncAPI
 * 3.0.0, `application/yaml`, RFC 9512) refers to `GET /contract/schema.json` (JSON Schema
 * 2020-12) beside it for every payload.
 */
@Controller('contract')
export class ContractController {
  constructor(private readonly files: ContractFiles) {}

  @Get('asyncapi.yaml')
  @Header('Content-Type', 'application/yaml; charset=utf-8')
  asyncApi(): string {
    return this.files.text('asyncapi.yaml');
  }

  @Get('schema.json')
  @Header('Content-Type', 'application/json; charset=utf-8')
  schema(): string {
    return this.files.text('schema.json');
  }
}
