// CPU-bound work for a JavaScript engine: arrays, closures, strings, Map, sorting, JSON.
// Prints checksums, so every runtime must print the same lines.
const rounds = Number(scriptArgs[1] || 1);

function fannkuch(n) {
  const perm = [], count = [], p = [];
  for (let i = 0; i < n; i++) p[i] = i;
  let maxFlips = 0, checksum = 0, r = n, permCount = 0;
  for (;;) {
    while (r !== 1) { count[r - 1] = r; r--; }
    for (let i = 0; i < n; i++) perm[i] = p[i];
    let flips = 0, k;
    while ((k = perm[0]) !== 0) {
      for (let i = 0, j = k; i < j; i++, j--) { const t = perm[i]; perm[i] = perm[j]; perm[j] = t; }
      flips++;
    }
    if (flips > maxFlips) maxFlips = flips;
    checksum += permCount % 2 === 0 ? flips : -flips;
    for (;;) {
      if (r === n) return [checksum, maxFlips];
      const p0 = p[0];
      for (let i = 0; i < r; i++) p[i] = p[i + 1];
      p[r] = p0;
      if (--count[r] > 0) break;
      r++;
    }
    permCount++;
  }
}

function words(count) {
  const seen = new Map();
  let s = 7;
  for (let i = 0; i < count; i++) {
    s = (s * 1103515245 + 12345) % 2147483648;
    const w = "w" + (s % 5000).toString(36);
    seen.set(w, (seen.get(w) || 0) + 1);
  }
  const top = [...seen.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  return JSON.stringify(top.slice(0, 3));
}

function objects(count) {
  const list = [];
  for (let i = 0; i < count; i++) {
    list.push({ id: i, name: "item" + i, tags: [i % 3, i % 7], score: (i * 37) % 101 });
  }
  const text = JSON.stringify(list);
  const back = JSON.parse(text);
  return text.length + ":" + back.filter(o => o.tags[0] === 1).reduce((a, o) => a + o.score, 0);
}

for (let round = 0; round < rounds; round++) {
  console.log("fannkuch(8)", fannkuch(8).join(" "));
  console.log("words", words(12000));
  console.log("objects", objects(3000));
}
