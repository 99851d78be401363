export {
  claimMappingEntrySchema,
  claimMappingSchema,
  claimRuleSchema,
  claimTypes,
  reservedClaims,
  standardClaimTypes,
  type ClaimMapping,
  type ClaimMappingEntry,
  type ClaimRule,
} from './schema.js';
export {
  CompiledMapping,
  coerceClaim,
  compileClaimPattern,
  compileMapping,
  defaultMaxClaimBytes,
  mapClaims,
  maxClaimArrayItems,
  mergeMappings,
  unsafeClaimNames,
  type ClaimType,
  type CompiledClaimRule,
  type CompiledSource,
  type MapClaimsOptions,
} from './map.js';
export { hasNestedRepetition, validateMapping } from './validate.js';
