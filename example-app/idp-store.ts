import type { Adapter, AdapterFactory, AdapterPayload } from 'oidc-provider';

interface Entry {
  payload: AdapterPayload;
  expiresAt: number;
}

/**
 * In-memory storage for the development IdP's sessions, codes and grants, one map per IdP
 * instance. What oidc-provider's built-in quick-start adapter does, minus its warning (this IdP
 * is development-only by design) and without sharing state between the two simulated vendors.
 */
export function createMemoryAdapter(): AdapterFactory {
  const data = new Map<string, Entry>();
  const byUid = new Map<string, string>();
  const byUserCode = new Map<string, string>();
  const grants = new Map<string, Set<string>>();
  return (model: string): Adapter => {
    const key = (id: string) => `${model}:${id}`;
    const find = async (id: string): Promise<AdapterPayload | undefined> => {
      const entry = data.get(key(id));
      if (!entry) return undefined;
      if (entry.expiresAt <= Date.now()) {
        data.delete(key(id));
        return undefined;
      }
      return entry.payload;
    };
    return {
      find,
      async findByUid(uid) {
        const id = byUid.get(uid);
        return id === undefined ? undefined : find(id);
      },
      async findByUserCode(userCode) {
        const id = byUserCode.get(userCode);
        return id === undefined ? undefined : find(id);
      },
      async upsert(id, payload, expiresIn) {
        data.set(key(id), { payload, expiresAt: expiresIn ? Date.now() + expiresIn * 1000 : Infinity });
        if (payload.uid) byUid.set(payload.uid, id);
        if (payload.userCode) byUserCode.set(payload.userCode, id);
        if (payload.grantId) {
          const members = grants.get(payload.grantId) ?? new Set<string>();
          members.add(key(id));
          grants.set(payload.grantId, members);
        }
      },
      async consume(id) {
        const entry = data.get(key(id));
        if (entry) entry.payload.consumed = Math.floor(Date.now() / 1000);
      },
      async destroy(id) {
        data.delete(key(id));
      },
      async revokeByGrantId(grantId) {
        for (const member of grants.get(grantId) ?? []) data.delete(member);
        grants.delete(grantId);
      },
    };
  };
}
