import { resolveAgentOptions } from './agent-options';

const base = { clusterTokens: ['t'] };

describe('pre-started runtime options', () => {
  test('resolveAgentOptions keeps two pre-started runtimes per runtime when none are configured', () => {
    expect(resolveAgentOptions(base).prestart).toEqual({ nodejs: 2, python: 2 });
  });

  test('resolveAgentOptions turns one runtime\'s pool off when its count is 0', () => {
    expect(resolveAgentOptions({ ...base, prestart: { nodejs: 0, python: 3 } }).prestart).toEqual({ nodejs: 0, python: 3 });
  });

  test.each([-1, 1.5, 65, Number.NaN])('resolveAgentOptions refuses %p pre-started runtimes with a message naming the variable', (n) => {
    expect(() => resolveAgentOptions({ ...base, prestart: { nodejs: n } })).toThrow(/STRATUS_PRESTART_NODEJS=.* whole number from 0 \(off\) to 64/);
  });
});
