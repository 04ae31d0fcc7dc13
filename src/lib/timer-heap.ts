/** Due times for keyed items: the earliest is always at hand; re-scheduling a key replaces it. */
export class TimerHeap {
  private heap: { due: number; key: string }[] = [];
  private current = new Map<string, number>();

  set(key: string, due: number | null): void {
    if (due === null) {
      this.current.delete(key);
      return;
    }
    if (this.current.get(key) === due) return;
    this.current.set(key, due);
    this.heap.push({ due, key });
    this.up(this.heap.length - 1);
  }

  /** The earliest live due time, dropping stale entries. */
  peek(): number | null {
    while (this.heap.length > 0) {
      const top = this.heap[0]!;
      if (this.current.get(top.key) === top.due) return top.due;
      this.pop();
    }
    return null;
  }

  /** Removes and returns every key due at or before nowMs. */
  takeDue(nowMs: number): string[] {
    const out: string[] = [];
    for (let d = this.peek(); d !== null && d <= nowMs; d = this.peek()) {
      const top = this.pop()!;
      this.current.delete(top.key);
      out.push(top.key);
    }
    return out;
  }

  get size(): number {
    return this.current.size;
  }

  clear(): void {
    this.heap = [];
    this.current.clear();
  }

  private pop(): { due: number; key: string } | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0 && last) {
      h[0] = last;
      this.down(0);
    }
    return top;
  }

  private up(i: number): void {
    const h = this.heap;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (h[p]!.due <= h[i]!.due) break;
      [h[p], h[i]] = [h[i]!, h[p]!];
      i = p;
    }
  }

  private down(i: number): void {
    const h = this.heap;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && h[l]!.due < h[m]!.due) m = l;
      if (r < h.length && h[r]!.due < h[m]!.due) m = r;
      if (m === i) return;
      [h[m], h[i]] = [h[i]!, h[m]!];
      i = m;
    }
  }
}
