import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

/** One import of a file under src: from, to (both relative to src, .ts), and whether it is `import type`. */
export interface ImportEdge {
  from: string;
  to: string;
  typeOnly: boolean;
}

/** Every relative import (and re-export) of every .ts file under `root` (the browser's static files are not TypeScript). */
export function importGraph(root: string): ImportEdge[] {
  const files: string[] = [];
  const walk = (d: string) => {
    for (const f of readdirSync(d)) {
      const p = join(d, f);
      if (statSync(p).isDirectory()) walk(p);
      else if (p.endsWith('.ts')) files.push(p);
    }
  };
  walk(root);
  const edges: ImportEdge[] = [];
  for (const f of files) {
    const text = readFileSync(f, 'utf8');
    for (const m of text.matchAll(/^(?:import|export)\s+(type\s+)?(?:[^'"]*?\sfrom\s+)?'(\.[^']+)'/gm)) {
      const to = relative(root, resolve(dirname(f), m[2]!.replace(/\.js$/, '.ts')));
      edges.push({ from: relative(root, f), to, typeOnly: !!m[1] });
    }
  }
  return edges;
}

/** The part of src a file belongs to: its top folder, or its name for a file at the top. */
export function partOf(file: string): string {
  const [first, second] = file.split('/');
  return second === undefined ? first!.replace(/\.ts$/, '') : first!;
}

/** Groups of files that import each other in a circle (Tarjan's strongly connected components of two or more). */
export function importCycles(edges: ImportEdge[]): string[][] {
  const out = new Map<string, string[]>();
  for (const e of edges) out.set(e.from, [...(out.get(e.from) ?? []), e.to]);
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const cycles: string[][] = [];
  const visit = (v: string) => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of out.get(v) ?? []) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1) cycles.push(scc.sort());
    }
  };
  for (const v of out.keys()) if (!idx.has(v)) visit(v);
  return cycles;
}
