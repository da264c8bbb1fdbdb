import { Command } from 'commander';
import { loadConfig, resolveDataDir } from '../core/config.ts';
import { createLogger } from '../core/logging.ts';
import { buildApp } from '../server/app.ts';
import { openPlatform } from '../server/platform.ts';
import { loadServerTls } from '../server/tls.ts';
import { startWalCheckpointer } from '../store/wal-checkpointer.ts';
import { serveHooks } from './serve-hooks.ts';
import { globals } from './context.ts';

/** `imprint serve`: the HTTPS server on the configured address until SIGINT/SIGTERM. */
export function serveCommand(): Command {
  return new Command('serve')
    .description('run the Imprint server')
    .option('--port <port>', 'override the configured port')
    .action(async (opts: { port?: string }, self: Command) => {
      const config = loadConfig(resolveDataDir(globals(self).dataDir));
      const logger = createLogger(config.logLevel);
      const p = await openPlatform(config, { logger });
      // SQLite: WAL checkpoints on a worker thread, not inside request commits (store/wal-checkpointer.ts).
      const checkpointer = await startWalCheckpointer(p.store);
      const tls = await loadServerTls(p);
      const hooks = await serveHooks(p);
      const app = await buildApp(
        {
          ...p,
          rateLimitPerMinute: config.rateLimitPerMinute,
          certificateResolvers: hooks.certificateResolvers,
          features: hooks.features,
        },
        { key: tls.key, cert: tls.cert, ca: hooks.clientCas },
      );
      const port = opts.port === undefined ? config.listen.port : Number(opts.port);
      await app.listen({ host: config.listen.host, port });
      const timer = setInterval(
        () => void hooks.tick().catch((err: unknown) => logger.error({ err }, 'periodic task failed')),
        5000,
      );
      logger.info({ url: config.publicUrl, port }, 'imprint serving');
      const stop = async () => {
        clearInterval(timer);
        await app.close();
        await hooks.tick().catch(() => undefined);
        await checkpointer?.stop();
        await p.close();
        process.exit(0);
      };
      process.once('SIGINT', () => void stop());
      process.once('SIGTERM', () => void stop());
    });
}
