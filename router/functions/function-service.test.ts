import { DEFAULT_LOGGING } from '../../sdk/core/function-logs';
import { StratusError } from '../../sdk/core/errors';
import type { FunctionConfig } from '../../sdk/core/function-config';
import { DEFAULT_ASYNC_CONFIG, normalizeFunctionConfig } from '../../sdk/core/function-config';
import { applyConfigPatch } from './function-service';

function current(): FunctionConfig {
  return {
    name: 'thumbnailer',
    runtime: 'nodejs20.x',
    handler: 'index.handler',
    memoryMb: 512,
    timeoutSeconds: 30,
    environment: { STAGE: 'prod', BUCKET: 'images' },
    description: 'makes thumbnails',
    layers: ['sharp:3'],
    ephemeralStorageMb: 1024,
    reservedConcurrency: 10,
    role: 'role-a',
    tags: { team: 'media' },
    async: DEFAULT_ASYNC_CONFIG,
    networkDisabled: false,
    recursiveLoop: 'Terminate',
    logging: DEFAULT_LOGGING,
  };
}

describe('applyConfigPatch', () => {
  test('applyConfigPatch applies exactly the masked fields when a mask is given', () => {
    const patch: Partial<FunctionConfig> = { memoryMb: 1024, timeoutSeconds: 60, description: 'ignored: not in the mask' };
    const next = applyConfigPatch(current(), patch, ['memory_mb']);
    expect(next).toEqual({ ...current(), memoryMb: 1024 });
  });

  test('applyConfigPatch clears the environment when the mask names it and the patch has none', () => {
    const next = applyConfigPatch(current(), { environment: {} }, ['environment']);
    expect(next.environment).toEqual({});
    expect(normalizeFunctionConfig(next).config.environment).toEqual({});
  });

  test('applyConfigPatch clears masked fields when the patch leaves them unset', () => {
    const next = applyConfigPatch(current(), {}, ['environment', 'layers', 'description', 'reserved_concurrency']);
    const { config } = normalizeFunctionConfig(next);
    expect(config).toMatchObject({ environment: {}, layers: [], description: '', reservedConcurrency: undefined });
    // Everything not in the mask is kept.
    expect(config).toMatchObject({ memoryMb: 512, timeoutSeconds: 30, tags: { team: 'media' } });
  });

  test('applyConfigPatch replaces the whole environment when the mask names it', () => {
    const next = applyConfigPatch(current(), { environment: { NEW: '1' } }, ['environment']);
    expect(next.environment).toEqual({ NEW: '1' });
  });

  test('applyConfigPatch sets several fields when the mask names them all', () => {
    const patch: Partial<FunctionConfig> = {
      runtime: 'python3.12',
      handler: 'app.handler',
      timeoutSeconds: 60,
      ephemeralStorageMb: 2048,
      role: 'role-b',
      tags: { team: 'ml' },
    };
    const next = applyConfigPatch(current(), patch, ['runtime', 'handler', 'timeout_seconds', 'ephemeral_storage_mb', 'role', 'tags']);
    expect(next).toEqual({ ...current(), ...patch });
  });

  test('applyConfigPatch keeps the name when the patch carries another one', () => {
    const next = applyConfigPatch(current(), { name: 'other', memoryMb: 256 }, ['memory_mb']);
    expect(next.name).toBe('thumbnailer');
  });

  test('applyConfigPatch keeps the current runtime when the mask names runtime but the patch has none', () => {
    const next = applyConfigPatch(current(), {}, ['runtime']);
    expect(next.runtime).toBe('nodejs20.x');
  });

  test('applyConfigPatch throws InvalidRequest naming the field when the mask has an unknown field', () => {
    let caught: unknown;
    try {
      applyConfigPatch(current(), { memoryMb: 1024 }, ['memory_mb', 'memorySize']);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(StratusError);
    expect((caught as StratusError).code).toBe('InvalidRequest');
    expect((caught as StratusError).message).toMatch(/unknown field 'memorySize' in update mask: use one of .*memory_mb/);
  });

  test('applyConfigPatch rejects the domain spelling when the mask uses it instead of the proto name', () => {
    expect(() => applyConfigPatch(current(), {}, ['memoryMb'])).toThrow(StratusError);
    expect(() => applyConfigPatch(current(), {}, ['name'])).toThrow(StratusError);
  });

  test('applyConfigPatch applies only the fields given a value when the mask is empty', () => {
    const patch: Partial<FunctionConfig> = {
      timeoutSeconds: 60,
      // Unset values as proto decoding produces them: none of these should clear anything.
      handler: '',
      environment: {},
      layers: [],
      tags: {},
      description: '',
      role: '',
    };
    const next = applyConfigPatch(current(), patch, []);
    expect(next).toEqual({ ...current(), timeoutSeconds: 60 });
  });

  test('applyConfigPatch sets environment, layers and tags when the mask is empty and they have values', () => {
    const next = applyConfigPatch(current(), { environment: { X: '1' }, layers: ['l:2'], tags: { a: 'b' } }, []);
    expect(next).toMatchObject({ environment: { X: '1' }, layers: ['l:2'], tags: { a: 'b' } });
    expect(next.memoryMb).toBe(512);
  });

  test('applyConfigPatch does not change the current config when it applies a patch', () => {
    const cur = current();
    applyConfigPatch(cur, { environment: {}, memoryMb: 2048 }, ['environment', 'memory_mb']);
    expect(cur).toEqual(current());
  });
});
