import { EventEmitter } from 'node:events';
import { createEmitter, type Emit } from '../events.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import type { FedgateOptions } from './types.js';

/** The audit events of one gateway: `emit` for the core, `emitter` behind `gateway.on/off`. */
export interface GatewayEventsHub {
  readonly emit: Emit;
  readonly emitter: EventEmitter;
}

/** One emit function feeding the log, `options.onEvent`, `gateway.on` listeners and the metrics. */
export function createEvents(options: FedgateOptions, logger: Logger, metrics: Metrics | undefined): GatewayEventsHub {
  const emitter = new EventEmitter();
  // An 'error'-typed listener is never needed: events carry no 'error' type, so emit never throws.
  const emit = createEmitter(logger, [
    ...(options.onEvent ? [options.onEvent] : []),
    (event) => {
      emitter.emit(event.type, event);
    },
    ...(metrics ? [metrics.onEvent] : []),
  ]);
  return { emit, emitter };
}
