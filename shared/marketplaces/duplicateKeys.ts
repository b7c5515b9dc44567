/**
 * Keys that appear twice in one JSON object. JSON.parse keeps the last one silently, so an entry
 * with `partner_tenant_id_test` twice would run with whichever an editor happened to leave last;
 * the configuration refuses such an entry instead. JSON.parse cannot tell, so this reads the text.
 */

/** Where a repeated key is: the path of the object that holds it (`["marketplaces", 2]`), and the key. */
export interface DuplicateKey {
  path: (string | number)[];
  key: string;
}

type Frame = { kind: 'object'; keys: Set<string>; key?: string; expectKey: boolean } | { kind: 'array'; index: number };

/**
 * Every repeated key of a text that JSON.parse accepted (call it only then: the scanner relies on
 * the text being valid JSON). One pass over the text, whatever its size.
 */
export function duplicateKeys(text: string): DuplicateKey[] {
  const found: DuplicateKey[] = [];
  const stack: Frame[] = [];
  // Each enclosing object is at the key last read in it, each enclosing array at its current index.
  const pathOf = () => stack.slice(0, -1).map((frame) => (frame.kind === 'array' ? frame.index : (frame.key ?? '')));
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    const top = stack.at(-1);
    if (c === '"') {
      let end = i + 1;
      while (text[end] !== '"') end += text[end] === '\\' ? 2 : 1;
      if (top?.kind === 'object' && top.expectKey) {
        const key = JSON.parse(text.slice(i, end + 1)) as string;
        if (top.keys.has(key)) found.push({ path: pathOf(), key });
        top.keys.add(key);
        top.key = key;
        top.expectKey = false;
      }
      i = end;
    } else if (c === '{') stack.push({ kind: 'object', keys: new Set(), expectKey: true });
    else if (c === '[') stack.push({ kind: 'array', index: 0 });
    else if (c === '}' || c === ']') stack.pop();
    else if (c === ',') {
      if (top?.kind === 'object') top.expectKey = true;
      else if (top?.kind === 'array') top.index++;
    }
  }
  return found;
}
