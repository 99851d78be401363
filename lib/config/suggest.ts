import { z } from 'zod';

/** Optimal string alignment distance: edits, with a swap of two neighbours counting as one. */
function editDistance(a: string, b: string): number {
  const rows: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) rows[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(rows[i - 1]![j]! + 1, rows[i]![j - 1]! + 1, rows[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, rows[i - 2]![j - 2]! + 1);
      rows[i]![j] = d;
    }
  }
  return rows[a.length]![b.length]!;
}

/**
 * The known name closest to `name` (`clientID` → `clientId`, `idelTimeout` → `idleTimeout`), or
 * undefined when none is close enough to be a likely typo.
 */
export function nearestName(name: string, known: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of known) {
    if (candidate === name) continue;
    // A difference in case alone is the most common slip and always the best guess.
    const d = candidate.toLowerCase() === name.toLowerCase() ? 0.5 : editDistance(name, candidate);
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return bestDistance <= Math.max(1, Math.floor(name.length / 3)) ? best : undefined;
}

/** Schemas a value at this place may match (wrappers removed, unions spread). */
function alternatives(schema: z.ZodType): z.ZodType[] {
  if (schema instanceof z.ZodOptional || schema instanceof z.ZodNullable) return alternatives(schema.unwrap() as z.ZodType);
  if (schema instanceof z.ZodDefault) return alternatives(schema.unwrap() as z.ZodType);
  if (schema instanceof z.ZodUnion) return (schema.options as readonly z.ZodType[]).flatMap(alternatives);
  return [schema];
}

function step(schema: z.ZodType, segment: PropertyKey): z.ZodType[] {
  if (schema instanceof z.ZodObject && typeof segment === 'string') {
    const shape = schema.shape as Record<string, z.ZodType>;
    return Object.hasOwn(shape, segment) ? [shape[segment]!] : [];
  }
  if (schema instanceof z.ZodArray && typeof segment === 'number') return [schema.element as z.ZodType];
  if (schema instanceof z.ZodRecord && typeof segment === 'string') return [schema.valueType as z.ZodType];
  return [];
}

/** Keys the object schema(s) at `path` accept; empty when the path leads to no object schema. */
export function knownKeysAt(schema: z.ZodType, path: readonly PropertyKey[]): string[] {
  let current = alternatives(schema);
  for (const segment of path) current = current.flatMap((s) => step(s, segment)).flatMap(alternatives);
  const keys = new Set<string>();
  for (const s of current) if (s instanceof z.ZodObject) for (const k of Object.keys(s.shape)) keys.add(k);
  return [...keys];
}
