import { StratusError } from './errors';
import { functionArn, normalizeFunctionConfig, validateFunctionName, type FunctionConfigInput } from './function-config';

type Input = FunctionConfigInput;

function input(overrides: Partial<Input> = {}): Input {
  return { name: 'thumbnailer', runtime: 'nodejs', handler: 'index.handler', ...overrides };
}

/** Runs `fn`, expecting an InvalidRequest StratusError, and returns it. */
function invalid(fn: () => unknown): StratusError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(StratusError);
    const e = err as StratusError;
    expect(e.code).toBe('InvalidRequest');
    expect(e.retryable).toBe(false);
    return e;
  }
  throw new Error('expected an InvalidRequest error, but nothing was thrown');
}

describe('normalizeFunctionConfig defaults', () => {
  test('normalizeFunctionConfig applies Lambda defaults when only name, runtime and handler are given', () => {
    const { config, runtime } = normalizeFunctionConfig(input());
    expect(runtime).toBe('nodejs');
    expect(config).toEqual({
      name: 'thumbnailer',
      runtime: 'nodejs',
      handler: 'index.handler',
      memoryMb: 128,
      timeoutSeconds: 3,
      environment: {},
      description: '',
      layers: [],
      ephemeralStorageMb: 512,
      reservedConcurrency: undefined,
      role: '',
      tags: {},
      async: { maxRetryAttempts: 2, maxEventAgeSeconds: 21_600, onSuccess: undefined, onFailure: undefined },
      networkDisabled: false,
      recursiveLoop: 'Terminate',
      logging: { format: 'Text', applicationLogLevel: undefined, systemLogLevel: undefined, retentionDays: 0, maxMb: 0 },
    });
  });

  test('normalizeFunctionConfig validates the logging config as Lambda does: levels only with JSON logs', () => {
    expect(normalizeFunctionConfig(input({ logging: { format: 'JSON', applicationLogLevel: 'WARN', systemLogLevel: 'WARN', retentionDays: 3, maxMb: 64 } })).config.logging).toEqual({ format: 'JSON', applicationLogLevel: 'WARN', systemLogLevel: 'WARN', retentionDays: 3, maxMb: 64 });
    expect(() => normalizeFunctionConfig(input({ logging: { applicationLogLevel: 'INFO' } }))).toThrow(/JSON logs only: add --log-format JSON/);
    expect(() => normalizeFunctionConfig(input({ logging: { format: 'Yaml' as never } }))).toThrow(/use Text or JSON/);
    expect(() => normalizeFunctionConfig(input({ logging: { format: 'JSON', systemLogLevel: 'ERROR' as never } }))).toThrow(/use DEBUG, INFO or WARN/);
    expect(() => normalizeFunctionConfig(input({ logging: { retentionDays: -1 } }))).toThrow(/log retention -1 days/);
  });

  test('normalizeFunctionConfig validates async settings and destinations when they are given', () => {
    expect(normalizeFunctionConfig(input({ async: { maxRetryAttempts: 0, maxEventAgeSeconds: 60, onSuccess: { kind: 'subject', target: 'orders.done' }, onFailure: { kind: 'function', target: 'audit' } } })).config.async).toEqual({
      maxRetryAttempts: 0,
      maxEventAgeSeconds: 60,
      onSuccess: { kind: 'subject', target: 'orders.done' },
      onFailure: { kind: 'function', target: 'audit' },
    });
    expect(() => normalizeFunctionConfig(input({ async: { maxRetryAttempts: 3 } }))).toThrow(/maximum retry attempts 3/);
    expect(() => normalizeFunctionConfig(input({ async: { maxEventAgeSeconds: 30 } }))).toThrow(/maximum event age 30/);
    expect(() => normalizeFunctionConfig(input({ async: { onSuccess: { kind: 'subject', target: 'orders.*' } } }))).toThrow(/not a NATS subject/);
    expect(() => normalizeFunctionConfig(input({ async: { onFailure: { kind: 'queue' as never, target: 'x' } } }))).toThrow(/use subject or function/);
  });

  test('normalizeFunctionConfig treats zero numbers as unset when they come from proto defaults', () => {
    const { config } = normalizeFunctionConfig(input({ memoryMb: 0, timeoutSeconds: 0, ephemeralStorageMb: 0 }));
    expect(config).toMatchObject({ memoryMb: 128, timeoutSeconds: 3, ephemeralStorageMb: 512 });
  });

  test('normalizeFunctionConfig keeps every given value when all are valid', () => {
    const { config } = normalizeFunctionConfig(
      input({
        memoryMb: 1024,
        timeoutSeconds: 900,
        ephemeralStorageMb: 10240,
        environment: { STAGE: 'prod' },
        description: 'makes thumbnails',
        layers: ['sharp:3'],
        reservedConcurrency: 0,
        role: 'arn:aws:iam::000000000000:role/thumb',
        tags: { team: 'media' },
      }),
    );
    expect(config).toMatchObject({
      memoryMb: 1024,
      timeoutSeconds: 900,
      ephemeralStorageMb: 10240,
      environment: { STAGE: 'prod' },
      description: 'makes thumbnails',
      layers: ['sharp:3'],
      reservedConcurrency: 0,
      role: 'arn:aws:iam::000000000000:role/thumb',
      tags: { team: 'media' },
    });
  });

  test('normalizeFunctionConfig copies environment, layers and tags when it returns them', () => {
    const environment = { A: '1' };
    const layers = ['l:1'];
    const tags = { t: 'v' };
    const { config } = normalizeFunctionConfig(input({ environment, layers, tags }));
    environment.A = 'changed';
    layers.push('l:2');
    tags.t = 'changed';
    expect(config).toMatchObject({ environment: { A: '1' }, layers: ['l:1'], tags: { t: 'v' } });
  });

  test('normalizeFunctionConfig accepts the range bounds when values sit exactly on them', () => {
    expect(() => normalizeFunctionConfig(input({ memoryMb: 128, timeoutSeconds: 1, ephemeralStorageMb: 512 }))).not.toThrow();
    expect(() => normalizeFunctionConfig(input({ memoryMb: 10240, timeoutSeconds: 900, ephemeralStorageMb: 10240 }))).not.toThrow();
  });
});

describe('normalizeFunctionConfig runtimes', () => {
  test.each([
    ['nodejs20.x', 'nodejs'],
    ['nodejs22.x', 'nodejs'],
    ['python3.11', 'python'],
    ['python3.13', 'python'],
    ['provided.al2023', 'provided'],
    ['provided.al2', 'provided'],
    ['NodeJS20.x', 'nodejs'],
  ] as const)('normalizeFunctionConfig resolves %s to %s when given a Lambda runtime name', (alias, ours) => {
    const handler = ours === 'python' ? 'app.handler' : 'index.handler';
    const { config, runtime } = normalizeFunctionConfig(input({ runtime: alias, handler }));
    expect(runtime).toBe(ours);
    // The user's spelling is kept for display; the resolved name is returned beside it.
    expect(config.runtime).toBe(alias);
  });

  test('normalizeFunctionConfig trims the runtime when it has surrounding spaces', () => {
    const { config, runtime } = normalizeFunctionConfig(input({ runtime: ' python3.11 ', handler: 'app.handler' }));
    expect(runtime).toBe('python');
    expect(config.runtime).toBe('python3.11');
  });

  test('normalizeFunctionConfig rejects the runtime when it is unknown', () => {
    const e = invalid(() => normalizeFunctionConfig(input({ runtime: 'java21' })));
    expect(e.message).toContain("'java21'");
    expect(e.message).toMatch(/use nodejs, python or provided/);
  });

  test('normalizeFunctionConfig rejects the runtime when it is empty', () => {
    invalid(() => normalizeFunctionConfig(input({ runtime: '' })));
  });
});

describe('normalizeFunctionConfig names', () => {
  test.each(['a', 'my-function_2', 'A'.repeat(64)])('validateFunctionName accepts %s when it follows the pattern', (name) => {
    expect(validateFunctionName(name)).toBe(name);
  });

  test.each(['', 'A'.repeat(65), 'has space', 'dot.ted', 'slash/ed', 'ünïcode', 'arn:aws:lambda'])(
    'normalizeFunctionConfig rejects the name %j when it breaks the pattern',
    (name) => {
      const e = invalid(() => normalizeFunctionConfig(input({ name })));
      expect(e.message).toMatch(/use 1-64 letters, digits, '-' or '_'/);
    },
  );
});

describe('normalizeFunctionConfig handlers', () => {
  test.each(['index.handler', 'src/index.handler', 'dist/app.main.handler', 'index.handlers.main'])(
    'normalizeFunctionConfig accepts the nodejs handler %s when it is file.function',
    (handler) => {
      expect(normalizeFunctionConfig(input({ handler })).config.handler).toBe(handler);
    },
  );

  test('normalizeFunctionConfig accepts a python handler when it is module.function', () => {
    expect(normalizeFunctionConfig(input({ runtime: 'python3.12', handler: 'app.handler' })).config.handler).toBe('app.handler');
  });

  test.each(['index', 'index.', '.handler', 'src.dir/index', 'index handler.x', `${'a'.repeat(125)}.abcd`])(
    'normalizeFunctionConfig rejects the nodejs handler %j when it is not file.function',
    (handler) => {
      const e = invalid(() => normalizeFunctionConfig(input({ handler })));
      expect(e.message).toMatch(/write it as file\.function, e\.g\. index\.handler/);
    },
  );

  test('normalizeFunctionConfig names a python example when a python handler is malformed', () => {
    const e = invalid(() => normalizeFunctionConfig(input({ runtime: 'python', handler: 'app' })));
    expect(e.message).toMatch(/e\.g\. app\.handler/);
  });

  test.each(['nodejs', 'python'])('normalizeFunctionConfig demands a handler when the %s runtime is given none', (runtime) => {
    for (const handler of [undefined, '', '   ']) {
      const e = invalid(() => normalizeFunctionConfig({ name: 'f', runtime, handler }));
      expect(e.message).toMatch(/needs a handler, e\.g\. --handler/);
    }
  });

  test('normalizeFunctionConfig defaults the handler to bootstrap when a provided runtime has none', () => {
    const { config, runtime } = normalizeFunctionConfig({ name: 'f', runtime: 'provided.al2023' });
    expect(runtime).toBe('provided');
    expect(config.handler).toBe('bootstrap');
  });

  test('normalizeFunctionConfig accepts any handler when the runtime is provided', () => {
    expect(normalizeFunctionConfig({ name: 'f', runtime: 'provided', handler: 'whatever' }).config.handler).toBe('whatever');
  });
});

describe('normalizeFunctionConfig ranges', () => {
  test.each([127, 10241, 256.5, -128])('normalizeFunctionConfig rejects memory %p when it is out of range', (memoryMb) => {
    const e = invalid(() => normalizeFunctionConfig(input({ memoryMb })));
    expect(e.message).toMatch(/invalid memory .*: use a whole number from 128 to 10240 MB/);
  });

  test.each([901, 1.5, -1])('normalizeFunctionConfig rejects the timeout %p when it is out of range', (timeoutSeconds) => {
    const e = invalid(() => normalizeFunctionConfig(input({ timeoutSeconds })));
    expect(e.message).toMatch(/invalid timeout .*: use a whole number from 1 to 900 seconds/);
  });

  test.each([511, 10241, 1024.5])('normalizeFunctionConfig rejects ephemeral storage %p when it is out of range', (ephemeralStorageMb) => {
    const e = invalid(() => normalizeFunctionConfig(input({ ephemeralStorageMb })));
    expect(e.message).toMatch(/invalid ephemeral storage .*: use a whole number from 512 to 10240 MB/);
  });

  test.each([-1, 1.5])('normalizeFunctionConfig rejects reserved concurrency %p when it is not a whole number ≥ 0', (reservedConcurrency) => {
    const e = invalid(() => normalizeFunctionConfig(input({ reservedConcurrency })));
    expect(e.message).toMatch(/invalid reserved concurrency/);
  });
});

describe('normalizeFunctionConfig environment', () => {
  test.each(['1ABC', 'MY-VAR', 'my var', '_LEADING', ''])('normalizeFunctionConfig rejects the environment key %j when it breaks the pattern', (key) => {
    const e = invalid(() => normalizeFunctionConfig(input({ environment: { [key]: 'v' } })));
    expect(e.message).toMatch(/start with a letter, then letters, digits or '_'/);
  });

  test('normalizeFunctionConfig accepts lower-case and digit keys when they start with a letter', () => {
    expect(normalizeFunctionConfig(input({ environment: { api_url2: 'x', X: '' } })).config.environment).toEqual({ api_url2: 'x', X: '' });
  });

  test.each(['AWS_REGION', 'AWS_LAMBDA_FUNCTION_NAME', 'AWS_SECRET_ACCESS_KEY', 'AWS_LAMBDA_RUNTIME_API', 'LAMBDA_TASK_ROOT', 'TZ'])(
    'normalizeFunctionConfig rejects the environment key %s when the platform reserves it',
    (key) => {
      const e = invalid(() => normalizeFunctionConfig(input({ environment: { [key]: 'v' } })));
      expect(e.message).toContain(`'${key}' is reserved`);
      expect(e.message).toMatch(/choose another name/);
    },
  );

  test('normalizeFunctionConfig accepts the environment when keys and values total exactly 4 KB', () => {
    const environment = { BIG: 'x'.repeat(4096 - 3) };
    expect(() => normalizeFunctionConfig(input({ environment }))).not.toThrow();
  });

  test('normalizeFunctionConfig rejects the environment when keys and values pass 4 KB', () => {
    const environment = { BIG: 'x'.repeat(4096 - 3 + 1) };
    const e = invalid(() => normalizeFunctionConfig(input({ environment })));
    expect(e.message).toMatch(/4097 bytes, over the 4096-byte limit: move large values into the code bundle/);
  });

  test('normalizeFunctionConfig counts bytes rather than characters when values are multibyte', () => {
    // 1,400 three-byte characters are 4,200 bytes, though only 1,400 characters.
    const e = invalid(() => normalizeFunctionConfig(input({ environment: { E: '€'.repeat(1400) } })));
    expect(e.message).toMatch(/4201 bytes/);
  });

  test('normalizeFunctionConfig sums every variable when several share the 4 KB limit', () => {
    const environment = { A: 'x'.repeat(2047), B: 'x'.repeat(2047) };
    expect(() => normalizeFunctionConfig(input({ environment }))).not.toThrow();
    invalid(() => normalizeFunctionConfig(input({ environment: { ...environment, C: '' } })));
  });
});

describe('normalizeFunctionConfig layers and description', () => {
  test('normalizeFunctionConfig accepts five layers when that is the limit', () => {
    const layers = ['a:1', 'b:1', 'c:1', 'd:1', 'e:1'];
    expect(normalizeFunctionConfig(input({ layers })).config.layers).toEqual(layers);
  });

  test('normalizeFunctionConfig rejects the layers when more than five are given', () => {
    const e = invalid(() => normalizeFunctionConfig(input({ layers: ['a:1', 'b:1', 'c:1', 'd:1', 'e:1', 'f:1'] })));
    expect(e.message).toMatch(/6 layers given: a function may use at most 5/);
  });

  test('normalizeFunctionConfig accepts the description when it is 256 characters', () => {
    expect(() => normalizeFunctionConfig(input({ description: 'd'.repeat(256) }))).not.toThrow();
  });

  test('normalizeFunctionConfig rejects the description when it passes 256 characters', () => {
    const e = invalid(() => normalizeFunctionConfig(input({ description: 'd'.repeat(257) })));
    expect(e.message).toMatch(/description is 257 characters: keep it to at most 256/);
  });
});

describe('functionArn', () => {
  test('functionArn builds an unqualified ARN when no qualifier is given', () => {
    expect(functionArn('us-east-1', '000000000000', 'f')).toBe('arn:aws:lambda:us-east-1:000000000000:function:f');
  });

  test('functionArn appends the qualifier when one is given', () => {
    expect(functionArn('us-east-1', '000000000000', 'f', '$LATEST')).toBe('arn:aws:lambda:us-east-1:000000000000:function:f:$LATEST');
  });
});
