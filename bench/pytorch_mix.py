#!/usr/bin/env python3
"""The realistic-mix figures of `srdpo bench` measured with PyTorch.

The same GPT-2-layout network (learned positions, LayerNorm, tanh GELU,
tied head; random weights), the same lengths — read from the figures
srdpo bench wrote (--figures out/bench.json: the lengths of its mix) — and
the same paths: scoring as separate rows with the full head and with
shared prompts and the head on response positions only; a DPO and an
Sr-DPO step (RMSprop), separate rows and shared prompts. Threads: 2.
Prints one JSON object per figure, as srdpo bench does.

Run by `make bench` when python3 has torch; skipped with a message
otherwise. Not a dependency of srdpo: a yardstick. Debian's python3-torch
uses the system BLAS: with the reference libblas3 a 2048² matmul runs at
5.5 GFLOP/s here, with OpenBLAS (apt-get install libopenblas0-pthread) at
178; every figure carries the rate measured in the same process.
"""
import argparse, json, math, sys, time

try:
    import torch
    import torch.nn.functional as F
except ImportError:
    print("bench/pytorch_mix.py: python3 has no torch (apt-get install python3-torch); PyTorch figures skipped", file=sys.stderr)
    sys.exit(0)

CONFIGS = {
    "256": dict(vocab=50257, context=1024, layers=4, heads=8, d=256),
    "gpt2-small": dict(vocab=50257, context=1024, layers=12, heads=12, d=768),
}


class GPT(torch.nn.Module):
    def __init__(self, vocab, context, layers, heads, d):
        super().__init__()
        self.heads = heads
        self.wte = torch.nn.Embedding(vocab, d)
        self.wpe = torch.nn.Embedding(context, d)
        self.blocks = torch.nn.ModuleList()
        for _ in range(layers):
            self.blocks.append(torch.nn.ModuleDict(dict(
                ln1=torch.nn.LayerNorm(d), qkv=torch.nn.Linear(d, 3 * d), proj=torch.nn.Linear(d, d),
                ln2=torch.nn.LayerNorm(d), fc=torch.nn.Linear(d, 4 * d), out=torch.nn.Linear(4 * d, d))))
        self.lnf = torch.nn.LayerNorm(d)
        for p in self.parameters():
            torch.nn.init.normal_(p, std=0.02)

    def hidden(self, tokens, positions, mask):
        """tokens, positions [B, T]; mask [B, T, T] True where visible."""
        b, t = tokens.shape
        x = self.wte(tokens) + self.wpe(positions)
        h = self.heads
        bias = torch.zeros(mask.shape, dtype=x.dtype).masked_fill(~mask, -1e9)[:, None]
        for blk in self.blocks:
            q, k, v = blk["qkv"](blk["ln1"](x)).split(x.shape[-1], dim=-1)
            q, k, v = (z.view(b, t, h, -1).transpose(1, 2) for z in (q, k, v))
            att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1]) + bias, dim=-1)
            x = x + blk["proj"]((att @ v).transpose(1, 2).reshape(b, t, -1))
            x = x + blk["out"](F.gelu(blk["fc"](blk["ln2"](x)), approximate="tanh"))
        return self.lnf(x)

    def logp(self, h, targets):
        return torch.log_softmax(h @ self.wte.weight.T, dim=-1).gather(-1, targets[..., None])[..., 0]


def separate_sums(m, rows):
    """rows: (prompt, response) lists; sums of response log-probs, rows padded to the longest."""
    t = max(len(p) + len(r) for p, r in rows)
    tok = torch.zeros(len(rows), t, dtype=torch.long)
    sel = torch.zeros(len(rows), t)
    for i, (p, r) in enumerate(rows):
        tok[i, :len(p) + len(r)] = torch.tensor(p + r)
        sel[i, len(p) - 1:len(p) + len(r) - 1] = 1
    causal = torch.ones(t, t, dtype=torch.bool).tril()[None].expand(len(rows), t, t)
    h = m.hidden(tok, torch.arange(t)[None].expand(len(rows), t), causal)
    lp = m.logp(h[:, :-1], tok[:, 1:])
    return (lp * sel[:, :-1]).sum(1)


def shared_sums(m, items):
    """items: (prompt, [responses]); the prompt once, each response after it, head on response positions only."""
    t = max(len(p) + sum(map(len, rs)) for p, rs in items)
    s = max(sum(map(len, rs)) for p, rs in items)
    b = len(items)
    tok = torch.zeros(b, t, dtype=torch.long)
    pos = torch.zeros(b, t, dtype=torch.long)
    seg = torch.full((b, t), -1)
    gather = torch.zeros(b, s, dtype=torch.long)
    target = torch.zeros(b, s, dtype=torch.long)
    which = torch.zeros(b, s, dtype=torch.long)
    for i, (p, rs) in enumerate(items):
        tok[i, :len(p)], pos[i, :len(p)], seg[i, :len(p)] = torch.tensor(p), torch.arange(len(p)), 0
        at, j = len(p), 0
        for k, r in enumerate(rs):
            tok[i, at:at + len(r)], pos[i, at:at + len(r)], seg[i, at:at + len(r)] = torch.tensor(r), torch.arange(len(p), len(p) + len(r)), k + 1
            for u, tk in enumerate(r):
                gather[i, j] = len(p) - 1 if u == 0 else at + u - 1
                target[i, j], which[i, j] = tk, k + 1
                j += 1
            at += len(r)
    si, sj = seg[:, :, None], seg[:, None, :]
    mask = torch.ones(t, t, dtype=torch.bool).tril()[None] & (((sj == 0) & (si >= 0)) | (si == sj))
    h = m.hidden(tok, pos, mask)
    h = h.gather(1, gather[..., None].expand(b, s, h.shape[-1]))
    lp = m.logp(h, target)
    return [(lp * (which == k + 1)).sum(1) for k in range(max(len(rs) for _, rs in items))]


def timed(runs, fns):
    for f in fns.values():
        f()
    out = {k: [] for k in fns}
    for _ in range(runs):
        for k, f in fns.items():
            start = time.perf_counter()
            f()
            out[k].append(time.perf_counter() - start)
    return out


def spread(xs):
    xs = sorted(xs)
    return dict(median=xs[len(xs) // 2] if len(xs) % 2 else (xs[len(xs) // 2 - 1] + xs[len(xs) // 2]) / 2, min=xs[0], max=xs[-1], runs=len(xs))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--figures", default="out/bench.json", help="srdpo bench's figures, for the mix's lengths")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--config", choices=sorted(CONFIGS), action="append")
    ap.add_argument("--pairs", type=int, default=0, help="score only the mix's first N pairs (0: all of them)")
    a = ap.parse_args()
    torch.set_num_threads(2)
    torch.manual_seed(1)
    figures = json.load(open(a.figures))
    x = torch.randn(2048, 2048)
    x @ x
    start = time.perf_counter()
    x @ x
    matmul = 2 * 2048 ** 3 / (time.perf_counter() - start) / 1e9
    for name in a.config or ["256"]:
        lengths = next((f["lengths"] for f in figures if f.get("figure") == ("scoring-mix-" + name) and "lengths" in f), None)
        if lengths is None:
            print(f"bench/pytorch_mix.py: {a.figures} has no scoring-mix-{name} lengths; run srdpo bench --figures scoring-mix-{name} first", file=sys.stderr)
            continue
        c = CONFIGS[name]
        m = GPT(**c)
        g = torch.Generator().manual_seed(1)
        ids = lambda n: torch.randint(c["vocab"], (n,), generator=g).tolist()
        items = [(ids(p), [ids(x), ids(y)]) for p, x, y in lengths[:a.pairs or None]]
        real = sum(2 * len(p) + len(x) + len(y) for p, (x, y) in items)
        rows = [(p, r) for p, rs in items for r in rs]
        budget = 1024

        def batches(seq, size_of):
            out, cur, tokens = [], [], 0
            for s in sorted(seq, key=size_of):
                if cur and (len(cur) + 1) * max(size_of(s), max(map(size_of, cur))) > budget:
                    out.append(cur)
                    cur = []
                cur.append(s)
            return out + [cur]

        def score_separate():
            with torch.no_grad():
                for bt in batches(rows, lambda r: len(r[0]) + len(r[1])):
                    separate_sums(m, bt)

        def score_shared():
            with torch.no_grad():
                for bt in batches(items, lambda it: len(it[0]) + sum(map(len, it[1]))):
                    shared_sums(m, bt)

        base = dict(d=c["d"], layers=c["layers"], vocab=c["vocab"], pairs=len(items), real_tokens=real, implementation="pytorch " + torch.__version__, threads=2, matmul_2048_gflops=round(matmul, 1))
        t = timed(a.runs, {"separate rows, full head": score_separate, "shared prompt, response-only head": score_shared})
        for k, v in t.items():
            s = spread([real / x for x in v])
            print(json.dumps(dict(figure="scoring-mix-" + name, path=k, unit="real tokens/s", **base, **s)))

        steps = next((f["lengths"] for f in figures if f.get("figure") == ("steps-mix-" + name) and "lengths" in f), None)
        if steps is None:
            print(f"bench/pytorch_mix.py: {a.figures} has no steps-mix-{name} lengths; step figures skipped", file=sys.stderr)
            continue
        pairs = [(ids(p), [ids(x), ids(y)]) for p, x, y in steps]
        n = len(pairs)
        aug = [([1] * 16 + p, rs) for p, rs in pairs]
        opt = torch.optim.RMSprop(m.parameters(), lr=1e-9)

        def step(shared, refined):
            opt.zero_grad()
            if shared:
                c_, r_ = shared_sums(m, pairs)
            else:
                s = separate_sums(m, [(p, rs[0]) for p, rs in pairs] + [(p, rs[1]) for p, rs in pairs])
                c_, r_ = s[:n], s[n:]
            h = c_ - r_
            if refined:
                with torch.no_grad():
                    if shared:
                        ca, ra = shared_sums(m, aug)
                    else:
                        s = separate_sums(m, [(p, rs[0]) for p, rs in aug] + [(p, rs[1]) for p, rs in aug])
                        ca, ra = s[:n], s[n:]
                h = h - 0.5 * (ca - ra)
            F.softplus(-0.1 * h).mean().backward()
            opt.step()

        t = timed(a.runs, {
            "dpo step, v1: separate rows": lambda: step(False, False),
            "sr-dpo step, v1: separate rows": lambda: step(False, True),
            "dpo step, shared prompts": lambda: step(True, False),
            "sr-dpo step, shared prompts": lambda: step(True, True)})
        for k, v in t.items():
            print(json.dumps(dict(figure="steps-mix-" + name, path=k, unit="ms", **{**base, "pairs": n}, **spread([1000 * x for x in v]))))


if __name__ == "__main__":
    main()
