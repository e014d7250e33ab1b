#!/usr/bin/env python3
"""The GPT-2-small train step of `srdpo bench --figures gpt2-small-gpt2`
measured with PyTorch: where its bytes go, and its peak memory.

The same network (bench/pytorch_mix.py's GPT: GPT-2 layout, tied head,
random weights), 8 sequences of 128 tokens, the head and log-softmax on
every position (as Hugging Face's forward and srdpo's SFT step), the
log-probs of the last 64 tokens (the response) summed into the loss,
backward and Adam. Prints JSON lines, as srdpo bench
does: the step time, the process's peak RSS (ru_maxrss, whole process:
interpreter and torch included), and the bytes of weights, gradients,
Adam state and the tensors autograd saves for the backward pass (counted
once per storage through torch.autograd.graph.saved_tensors_hooks), per
parameter and per token. Not a dependency of srdpo: a yardstick.

python3 bench/pytorch_train_memory.py [--runs 3]
"""
import argparse, json, os, resource, sys, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pytorch_mix import CONFIGS, GPT, torch  # noqa: E402  (exits when torch is missing)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    torch.set_num_threads(2)
    torch.manual_seed(1)
    c = CONFIGS["gpt2-small"]
    m = GPT(**c)
    b, t, prompt = 8, 128, 64
    g = torch.Generator().manual_seed(1)
    tok = torch.randint(c["vocab"], (b, t), generator=g)
    pos = torch.arange(t)[None].expand(b, t)
    causal = torch.ones(t, t, dtype=torch.bool).tril()[None].expand(b, t, t)
    opt = torch.optim.Adam(m.parameters(), lr=1e-4)
    saved = {}

    def pack(x):
        saved[x.untyped_storage().data_ptr() if hasattr(x, "untyped_storage") else x.storage().data_ptr()] = x.element_size() * x.nelement()
        return x

    def step(count):
        opt.zero_grad()
        ctx = torch.autograd.graph.saved_tensors_hooks(pack, lambda x: x) if count else None
        if ctx:
            ctx.__enter__()
        h = m.hidden(tok, pos, causal)
        lp = m.logp(h[:, :-1], tok[:, 1:])  # the head on every position, as HF's forward and srdpo's SFT step
        loss = -lp[:, prompt - 1:].sum()
        if ctx:
            ctx.__exit__(None, None, None)
        loss.backward()
        opt.step()

    step(True)  # warm-up; counts the saved tensors
    times = []
    for _ in range(a.runs):
        s = time.perf_counter()
        step(False)
        times.append(time.perf_counter() - s)
    params = sum(p.numel() for p in m.parameters())
    weights = sum(p.numel() * p.element_size() for p in m.parameters())
    state = sum(v.numel() * v.element_size() for st in opt.state.values() for v in st.values() if torch.is_tensor(v))
    acts = sum(saved.values())
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB → MiB
    base = dict(implementation="pytorch " + torch.__version__, threads=2, layout="gpt2", params=params, batch=b, T=t, d=c["d"], layers=c["layers"], vocab=c["vocab"])
    times.sort()
    print(json.dumps(dict(figure="gpt2-small train step", unit="ms", what="forward + backward + Adam", median=1000 * times[len(times) // 2], min=1000 * times[0], max=1000 * times[-1], runs=len(times), peak_rss_mib=round(peak, 1), **base)))
    for name, n in [("weights", weights), ("gradients", weights), ("Adam state", state), ("saved activations", acts)]:
        print(json.dumps(dict(figure="gpt2-small train memory: " + name, unit="MiB", value=round(n / 2**20, 1),
                              bytes_per_param=round(n / params, 2), bytes_per_token=round(n / (b * t)), **base)))


if __name__ == "__main__":
    main()
