// Lets `node --import ./bench/register.mjs bench/run.ts` run the TypeScript sources (bench, test
// fixtures and the library itself) without a build step, so a bench always measures lib/ as it is.
import { register } from 'node:module';

register('./ts-loader.mjs', import.meta.url);
