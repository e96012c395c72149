import { Logger } from '@nestjs/common';
import type { AddressInfo } from 'node:net';
import { createApp } from '../../src/app.factory';
import { loadConfig } from '../../src/config/load-config';
import { BridgeTestMethodsModule } from './bridge-methods';

/*
 * A server process for the bridge's fault tests: the real app, configured from the environment
 * like main.ts, with the test methods composed in (main.ts has no methods yet). Logs the same
 * "listening on" line that test/support/server-process.ts waits for (at LOG_LEVEL log or above,
 * which spawnServer sets unless told otherwise).
 */
async function serve(): Promise<void> {
  const config = loadConfig(process.env);
  const app = await createApp(config, { imports: [BridgeTestMethodsModule] });
  await app.listen(config.PORT, config.HOST);
  const { port } = app.getHttpServer().address() as AddressInfo;
  new Logger('Bootstrap').log(`bridge test server listening on http://${config.HOST}:${port}`);
  const stop = (): void => {
    app.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

serve().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
