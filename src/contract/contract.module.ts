import { Module } from '@nestjs/common';
import { ContractFiles } from './contract-files';
import { ContractController } from './contract.controller';

/** Serves the generated contract files (contract/ at the repository's root). */
@Module({ controllers: [ContractController], providers: [ContractFiles] })
export class ContractModule {}
