import { parseQualifier, pickVersion, validateAliasName, validateRouting } from './function-versions';
import { parseWeight } from '../cli/commands/versions';

describe('versions and aliases', () => {
  test('parseQualifier tells $LATEST, versions and aliases apart, and refuses anything else', () => {
    expect(parseQualifier('')).toEqual({ kind: 'latest' });
    expect(parseQualifier('$LATEST')).toEqual({ kind: 'latest' });
    expect(parseQualifier('12')).toEqual({ kind: 'version', version: '12' });
    expect(parseQualifier('live')).toEqual({ kind: 'alias', alias: 'live' });
    expect(() => parseQualifier('0')).toThrow(/qualifier '0'/);
    expect(() => parseQualifier('a b')).toThrow(/\$LATEST, a version number/);
  });

  test('pickVersion sends the routing weight to the second version and the rest to the first', () => {
    const alias = { functionVersion: '1', routing: { version: '2', weight: 0.1 } };
    expect(pickVersion(alias, 0.05)).toBe('2');
    expect(pickVersion(alias, 0.1)).toBe('1');
    expect(pickVersion(alias, 0.99)).toBe('1');
    expect(pickVersion({ functionVersion: '3', routing: undefined }, 0)).toBe('3');
  });

  test('alias names and routing are checked as Lambda checks them', () => {
    expect(validateAliasName('prod-1')).toBe('prod-1');
    expect(() => validateAliasName('42')).toThrow(/not all digits/);
    expect(validateRouting('1', { version: '2', weight: 0.25 })).toEqual({ version: '2', weight: 0.25 });
    expect(() => validateRouting('1', { version: '1', weight: 0.5 })).toThrow(/alias's own version/);
    expect(() => validateRouting('1', { version: '2', weight: 1 })).toThrow(/between 0 and 1/);
    expect(() => validateRouting('1', { version: '$LATEST', weight: 0.5 })).toThrow(/not \$LATEST/);
  });

  test('the CLI reads --weight VERSION=SHARE', () => {
    expect(parseWeight('3=0.1')).toEqual({ version: '3', weight: 0.1 });
    expect(parseWeight(undefined)).toBeUndefined();
    expect(() => parseWeight('3:10%')).toThrow(/VERSION=SHARE/);
  });
});
