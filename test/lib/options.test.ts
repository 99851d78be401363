// fedgate(config, options): a wrong option is a coded TypeError, thrown before anything is opened.
import { fedgate } from '../../index.js';
import type { FedgateOptions } from '../../lib/gateway.js';

const config = { baseUrl: 'http://localhost:3000', session: { secret: 'x'.repeat(32), insecureMemoryStore: true }, connectors: [] };

describe('fedgate options', () => {
  const misuse: Array<[string, unknown, string]> = [
    ['a misspelt option', { onEvents: () => undefined }, 'fedgate: unknown option "onEvents"'],
    ['onEvent that is not a function', { onEvent: 'audit' }, 'fedgate: options.onEvent must be a function'],
    ['a clock that is a number', { now: 5 }, 'fedgate: options.now must be a function'],
    ['errorHandler of another value', { errorHandler: 'json' }, "fedgate: options.errorHandler must be 'page' or 'next'"],
    [
      'a logger method that is not a function',
      { logger: { warn: 'x' } },
      'fedgate: options.logger must be a pino-compatible logger (debug, info, warn, error methods)',
    ],
    [
      'connectorTypes as a plain object',
      { connectorTypes: { custom: () => undefined } },
      'fedgate: options.connectorTypes must be a Map of type to connector factory',
    ],
    ['options that are a string', 'production', 'fedgate: options must be an object'],
  ];

  test.each(misuse)('%s: TypeError INVALID_ARGUMENT', (_name, options, message) => {
    let thrown: unknown;
    try {
      fedgate(config, options as FedgateOptions);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(TypeError);
    expect(thrown).toMatchObject({ code: 'INVALID_ARGUMENT', message });
  });

  test('undefined options count as absent; valid ones pass the check (the config is checked next)', () => {
    const bad = { ...config, baseUrl: 'nope' };
    for (const options of [
      undefined,
      {},
      { now: undefined, errorHandler: 'next' as const, env: {}, nodeEnv: 'test', metrics: false, connectorTypes: new Map() },
    ]) {
      expect(() => fedgate(bad, options as FedgateOptions | undefined)).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }) as Error);
    }
  });
});
