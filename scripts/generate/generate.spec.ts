import { Injectable, Module } from '@nestjs/common';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, Min, ValidateBy, ValidateNested } from 'class-validator';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { RpcMethod } from '../../src/rpc/rpc-method.decorator';
import { validateParams } from '../../src/rpc/rpc-params';
import { AsyncApiShape, schemaValidators } from './read-contract';
import { readContractSource } from './contract-source';
import { GENERATED_FILES, REPOSITORY_ROOT, generateContract, writeContract } from './generate';

class PingTarget {
  @IsInt()
  port!: number;
}

class ContractPingParams {
  @Min(0)
  @IsInt()
  seq!: number;

  @IsOptional()
  @ValidateNested()
  @Type(() => PingTarget)
  target?: PingTarget;
}

class ContractPingResult {
  @IsInt()
  pong!: number;
}

/** An extension's method, registered the way any module registers one. */
@Injectable()
class ContractExtraMethods {
  @RpcMethod({
    name: 'contract.extra_ping',
    params: ContractPingParams,
    permission: 'query',
    result: ContractPingResult,
    description: 'Answers its sequence number.',
    example: { params: { seq: 1, target: { port: 80 } }, result: { pong: 1 } },
  })
  ping(params: ContractPingParams): ContractPingResult {
    return { pong: params.seq };
  }
}

@Module({ providers: [ContractExtraMethods] })
class ContractExtraModule {}

class UndescribedParams {
  @ValidateBy({ name: 'isSomethingNew', validator: { validate: () => true } })
  value!: string;
}

@Injectable()
class UndescribedMethods {
  @RpcMethod({ name: 'contract.undescribed', params: UndescribedParams, permission: 'query' })
  undescribed(): object {
    return {};
  }
}

@Module({ providers: [UndescribedMethods] })
class UndescribedModule {}

type Defs = Record<string, { properties?: Record<string, unknown> }>;

describe('npm run generate', () => {
  it('regenerates, into a temporary folder, byte for byte the files checked in', async () => {
    const folder = await mkdtemp(join(tmpdir(), 'contract-'));
    try {
      await writeContract(await generateContract(), folder);
      const stale: string[] = [];
      for (const path of GENERATED_FILES) {
        const fresh = await readFile(join(folder, path));
        const checkedIn = await readFile(join(REPOSITORY_ROOT, path));
        if (!fresh.equals(checkedIn)) stale.push(path);
      }
      // A difference: run `npm run generate` and commit what it writes.
      expect(stale).toEqual([]);
    } finally {
      await rm(folder, { recursive: true, force: true });
    }
  }, 60_000);

  it('carries a method an extension module registers into the schema and the AsyncAPI document', async () => {
    const files = await generateContract({ imports: [ContractExtraModule] });
    const schema = JSON.parse(files.get('contract/schema.json') ?? '{}') as { $defs: Defs };
    const defs = schema.$defs;
    expect(defs.ContractExtraPingParams).toMatchObject({
      type: 'object',
      properties: { seq: { type: 'integer', minimum: 0 }, target: { $ref: '#/$defs/PingTarget' } },
      required: ['seq'],
    });
    expect(defs.PingTarget.properties).toEqual({ port: { type: 'integer' } });
    expect(defs.ContractExtraPingResult.properties).toEqual({ pong: { type: 'integer' } });
    expect(defs.ContractExtraPingCall.properties).toMatchObject({
      method: { const: 'contract.extra_ping' },
    });

    const document = parse(files.get('contract/asyncapi.yaml') ?? '') as AsyncApiShape;
    expect(document.operations.root_callContractExtraPing).toMatchObject({
      action: 'receive',
      messages: [{ $ref: '#/channels/root/messages/ContractExtraPingCall' }],
    });
    expect(document.operations.ws_callContractExtraPing).toBeDefined();
    const call = document.components.messages.ContractExtraPingCall;
    const validate = schemaValidators(schema)(call.payload.$ref ?? '');
    expect(call.examples?.map((example) => validate(example.payload))).toEqual([true]);
  }, 60_000);

  it('fails, naming it, on a validator it has no schema for', async () => {
    await expect(generateContract({ imports: [UndescribedModule] })).rejects.toThrow(
      /UndescribedParams\.value: the validator isSomethingNew/,
    );
  }, 60_000);

  it('declares for each built-in method an example call that the server itself accepts', async () => {
    const { methods } = await readContractSource();
    for (const method of methods) {
      expect(method.example).toBeDefined();
      expect(() => validateParams(method.params, method.example?.params)).not.toThrow();
    }
  }, 60_000);
});
