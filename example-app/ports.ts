import type { Server } from 'node:http';

/**
 * Listens on `port` (0: any free port). With `fallback`, a port already in use is not fatal: a
 * free one is taken instead, so `npm start` works next to whatever else runs on 3000/4000.
 */
export async function listen(server: Server, port: number, host: string, fallback: boolean): Promise<number> {
  try {
    return await listenOnce(server, port, host);
  } catch (err) {
    if (!fallback || port === 0 || (err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
    return listenOnce(server, 0, host);
  }
}

function listenOnce(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      const address = server.address();
      if (address === null || typeof address === 'string') reject(new Error('no TCP address'));
      else resolve(address.port);
    });
  });
}

/** Closes a server and its keep-alive connections. */
export async function close(server: Server): Promise<void> {
  if (!server.listening) return;
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeAllConnections();
  await closed;
}
