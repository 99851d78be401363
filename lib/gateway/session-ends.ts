/** Receives the express-session ids of sessions destroyed out of band (revocation, back-channel logout, logout). */
export type SessionEndListener = (sessionIds: readonly string[]) => void;

/**
 * The listeners of session ends, built before the gateway context: the context gets `notify`,
 * the parts that care (the session cache, broker mode's logout chain) register while the gateway
 * is assembled, and `seal` ends registration before the first request.
 */
export interface SessionEndListeners {
  add(listener: SessionEndListener): void;
  /** Calls every listener in registration order. */
  notify(sessionIds: readonly string[]): void;
  seal(): void;
}

export function createSessionEndListeners(initial: readonly SessionEndListener[]): SessionEndListeners {
  const listeners = [...initial];
  let sealed = false;
  return {
    add(listener) {
      // A listener added after assembly would miss the session ends before it: a wiring mistake.
      if (sealed) throw new TypeError('session-end listeners are sealed once the gateway is assembled');
      listeners.push(listener);
    },
    notify(sessionIds) {
      for (const listener of listeners) listener(sessionIds);
    },
    seal() {
      sealed = true;
    },
  };
}
