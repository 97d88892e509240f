import { translateAwsCron } from './aws-cron';

describe('translateAwsCron', () => {
  test('translateAwsCron renumbers day-of-week from 1-7 (Sunday first) to 0-6 when days are numbers', () => {
    expect(translateAwsCron('0 12 ? * 2-6 *').cron).toBe('0 12 ? * 1-5');
    expect(translateAwsCron('0 12 ? * 1,7 *').cron).toBe('0 12 ? * 0,6');
    expect(translateAwsCron('0 12 ? * 6#3 *').cron).toBe('0 12 ? * 5#3');
    expect(translateAwsCron('0 12 ? * 6L *').cron).toBe('0 12 ? * 5L');
    expect(translateAwsCron('0 12 ? * */2 *').cron).toBe('0 12 ? * */2');
  });
  test('translateAwsCron keeps day names when days are written as names', () => {
    expect(translateAwsCron('15 10 ? * MON-FRI *').cron).toBe('15 10 ? * MON-FRI');
  });
  test('translateAwsCron reads the year field into a set when years are given', () => {
    expect(translateAwsCron('0 12 * * ? *').years).toBeUndefined();
    expect([...(translateAwsCron('0 12 * * ? 2030').years ?? [])]).toEqual([2030]);
    expect([...(translateAwsCron('0 12 * * ? 2030-2032,2040').years ?? [])]).toEqual([2030, 2031, 2032, 2040]);
    const stepped = translateAwsCron('0 12 * * ? 2030/10').years ?? new Set();
    expect(stepped.has(2030) && stepped.has(2040) && !stepped.has(2035)).toBe(true);
  });
  test.each([
    ['0 12 * * *', /6 field|field\(s\)/],
    ['0 12 * * * *', /'\?' in exactly one/],
    ['0 12 ? * ? *', /'\?' in exactly one/],
    ['0 12 15W * ? *', /'W'/],
    ['0 12 ? * 8 *', /out of range/],
    ['0 12 ? * L *', /bare 'L'/],
    ['0 12 * * ? 1900', /year '1900'/],
    ['0 12 * * ? 20x0', /year item/],
    ['H 12 * * ? *', /'H'/],
  ])('translateAwsCron refuses %s with InvalidRequest naming the problem', (expr, message) => {
    expect(() => translateAwsCron(expr)).toThrow(message);
  });
});
