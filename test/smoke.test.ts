import Provider from 'oidc-provider';
import * as client from 'openid-client';
import { FedgateError } from '../lib/errors.js';

test('toolchain', () => {
  expect(typeof Provider).toBe('function');
  expect(typeof client.discovery).toBe('function');
  expect(new FedgateError('UNAUTHORIZED', 'x').status).toBe(401);
});
