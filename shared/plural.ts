/** "1 route", "4 routes", "0 pairs": a count with its noun in the right number (nouns that take an s). */
export const countOf = (n: number, noun: string): string => `${n} ${noun}${n === 1 ? '' : 's'}`;
