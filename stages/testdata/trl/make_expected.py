#!/usr/bin/env python3
"""Make expected.jsonl: the token ids TRL's DPOTrainer (v1.x) forms for each row of
records.jsonl, for the Qwen3, Llama 3 and Mistral tokenizers.

The rule reproduced is stated, with citations, in README.md next to this file.
In short (TRL 1.x, `DPOTrainer._prepare_dataset` + `DataCollatorForPreference`):

  standard rows (strings):
    chosen/rejected += eos_token text unless they already end with it
    prompt_ids        = tok(prompt)                     (add_special_tokens=True)
    prompt_chosen_ids = tok(prompt + chosen)            (add_special_tokens=True)
    chosen_ids        = prompt_chosen_ids[len(prompt_ids):]   (no prefix check beyond a warning)
  conversational rows (lists of messages):
    prompt_ids        = apply_chat_template(prompt, tools=..., add_generation_prompt=True,
                                            tokenize=True, **chat_template_kwargs)
    prompt_chosen_ids = apply_chat_template(prompt + chosen, tools=..., tokenize=True, **chat_template_kwargs)
    chosen_ids        = prompt_chosen_ids[len(prompt_ids):]
    (apply_chat_template renders with the Jinja environment of transformers and tokenizes the
     text with add_special_tokens=False)
  rejected likewise.
  truncation (collator, per sequence): ids = prompt_ids + chosen_ids, mask = [0]*len(prompt_ids) + [1]*len(chosen_ids);
    keep_start: ids[:max_length], keep_end: ids[-max_length:] (same slice on the mask);
    rows with len(prompt_ids) >= max_length are dropped when truncation_mode == "keep_start".
  ref_chosen_logps = sum over t >= 1 with mask[t] == 1 of log p(ids[t] | ids[:t]).

Rendering uses hf_env.py (transformers' chat-template environment, strftime_now pinned to
2024-07-26T12:00:00Z) from model/chattemplate/testdata/. Token ids come from Hugging Face's Rust
`tokenizers` through its node binding (tokenize.js, @anush008/tokenizers 0.6.0).

Usage (development only; tests read the committed expected.jsonl):

    mkdir -p /tmp/h2 && (cd /tmp/h2 && npm install @anush008/tokenizers@0.6.0)
    python3 stages/testdata/trl/make_expected.py \
        --node-modules /tmp/h2/node_modules --shared ../shared/tokenizers

Llama 3's tokenizer is read from the shared tokenizers folder (its file is not in the repository);
without it, the llama3 rows are left out (and the script says so).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
HF_ENV_DIR = os.path.join(REPO, "model", "chattemplate", "testdata")
TOKENIZER_TESTDATA = os.path.join(REPO, "model", "tokenizer", "testdata")

sys.path.insert(0, HF_ENV_DIR)
import hf_env  # noqa: E402  (render(template, messages, add_generation_prompt, tools, documents, special_tokens, **kw))
import jinja2  # noqa: E402

MAX_LENGTHS = [None, 16, 48]
TRUNCATION_MODES = ["keep_start", "keep_end"]  # keep_start is DPOConfig's default in TRL 1.x
EOS_PLACEHOLDER = "<<EOS>>"
SPECIAL_TOKENS_ATTRIBUTES = hf_env.SPECIAL_TOKENS_ATTRIBUTES


def sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        h.update(f.read())
    return h.hexdigest()


def token_text(value):
    if isinstance(value, dict) and "content" in value:
        return value["content"]
    return value


def load_tokenizers(shared: str | None, tmpdir: str) -> dict:
    """name -> {tokenizer_json, config, template, template_source, special_tokens, eos_token}."""
    specs = {
        "qwen3": {
            "gz": os.path.join(TOKENIZER_TESTDATA, "qwen3", "tokenizer.json.gz"),
            "config": os.path.join(TOKENIZER_TESTDATA, "qwen3", "tokenizer_config.json"),
            "template": None,  # the config's chat_template
        },
        "mistral": {
            "gz": os.path.join(TOKENIZER_TESTDATA, "mistral", "tokenizer.json.gz"),
            "config": os.path.join(TOKENIZER_TESTDATA, "mistral", "tokenizer_config.json"),
            "template": os.path.join(HERE, "mistral-7b-instruct.jinja"),
        },
    }
    if shared and os.path.exists(os.path.join(shared, "llama3", "tokenizer.json")):
        specs["llama3"] = {
            "json": os.path.join(shared, "llama3", "tokenizer.json"),
            "config": os.path.join(shared, "llama3", "tokenizer_config.json"),
            "template": None,
        }
    else:
        print(f"note: no llama3/tokenizer.json under {shared!r}: llama3 rows left out", file=sys.stderr)

    out = {}
    for name, spec in specs.items():
        if "gz" in spec:
            path = os.path.join(tmpdir, name + ".tokenizer.json")
            with gzip.open(spec["gz"], "rb") as src, open(path, "wb") as dst:
                shutil.copyfileobj(src, dst)
            source_file = spec["gz"]
        else:
            path = spec["json"]
            source_file = spec["json"]
        with open(spec["config"], encoding="utf-8") as f:
            config = json.load(f)
        if spec["template"] is None:
            template = config["chat_template"]
            template_source = os.path.relpath(spec["config"], REPO) if spec["config"].startswith(REPO) else spec["config"]
            template_source += " (chat_template)"
        else:
            with open(spec["template"], encoding="utf-8") as f:
                template = f.read()
            template_source = os.path.relpath(spec["template"], REPO)
        special = {k: config[k] for k in SPECIAL_TOKENS_ATTRIBUTES if k in config}
        out[name] = {
            "tokenizer_json": path,
            "tokenizer_source": source_file,
            "tokenizer_sha256": sha256_file(source_file),
            "config": config,
            "template": template,
            "template_source": template_source,
            "template_sha256": hashlib.sha256(template.encode("utf-8")).hexdigest(),
            "special_tokens": hf_env.special_tokens_map(special),
            "eos_token": token_text(config.get("eos_token")),
        }
    return out


def is_conversational(example: dict) -> bool:
    """trl.data_utils.is_conversational."""
    supported_keys = ["prompt", "chosen", "rejected", "completion", "messages"]
    example_keys = {key for key in example.keys() if key in supported_keys}
    if example_keys:
        key = example_keys.pop()
        maybe_messages = example[key]
        if isinstance(maybe_messages, list):
            maybe_message = maybe_messages[0]
            if isinstance(maybe_message, dict) and "role" in maybe_message and "content" in maybe_message:
                return True
    return False


def texts_for(record: dict, tok: dict):
    """The three strings TRL tokenizes for this row, and whether add_special_tokens is on."""
    if is_conversational(record):
        tools = record.get("tools")
        tools = json.loads(tools) if isinstance(tools, str) else tools
        kwargs = dict(record.get("chat_template_kwargs") or {})

        def render(messages, add_generation_prompt=False):
            return hf_env.render(
                tok["template"],
                messages,
                add_generation_prompt=add_generation_prompt,
                tools=tools,
                special_tokens=tok["special_tokens"],
                **kwargs,
            )

        prompt = render(record["prompt"], add_generation_prompt=True)
        prompt_chosen = render(record["prompt"] + record["chosen"])
        prompt_rejected = render(record["prompt"] + record["rejected"])
        return "conversational", prompt, prompt_chosen, prompt_rejected, False

    eos = tok["eos_token"]
    chosen = record["chosen"].replace(EOS_PLACEHOLDER, eos)
    rejected = record["rejected"].replace(EOS_PLACEHOLDER, eos)
    if not chosen.endswith(eos):
        chosen = chosen + eos
    if not rejected.endswith(eos):
        rejected = rejected + eos
    prompt = record["prompt"]
    return "standard", prompt, prompt + chosen, prompt + rejected, True


def tokenize_all(node: str, node_modules: str, tokenizers: dict, requests: list) -> list:
    payload = {
        "tokenizers": {name: t["tokenizer_json"] for name, t in tokenizers.items()},
        "requests": requests,
    }
    env = dict(os.environ)
    env["NODE_PATH"] = node_modules
    proc = subprocess.run(
        [node, os.path.join(HERE, "tokenize.js")],
        input=json.dumps(payload).encode("utf-8"),
        capture_output=True,
        env=env,
        check=False,
    )
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr.decode("utf-8", "replace"))
        raise SystemExit("tokenize.js failed")
    return json.loads(proc.stdout)["ids"]


def truncate(prompt_ids, completion_ids, max_length, mode):
    """DataCollatorForPreference: concatenate, build the completion mask, slice both."""
    ids = prompt_ids + completion_ids
    mask = [0] * len(prompt_ids) + [1] * len(completion_ids)
    if max_length is not None:
        if mode == "keep_start":
            sl = slice(None, max_length)
        elif mode == "keep_end":
            sl = slice(-max_length, None)
        else:
            raise ValueError(mode)
        ids, mask = ids[sl], mask[sl]
    return ids, mask


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shared", default=os.path.join(REPO, "..", "shared", "tokenizers"),
                    help="folder holding llama3/tokenizer.json (default: ../shared/tokenizers beside the repo)")
    ap.add_argument("--node-modules", default="/tmp/h2/node_modules",
                    help="node_modules folder where @anush008/tokenizers@0.6.0 is installed")
    ap.add_argument("--node", default="node")
    ap.add_argument("--records", default=os.path.join(HERE, "records.jsonl"))
    ap.add_argument("--out", default=os.path.join(HERE, "expected.jsonl"))
    args = ap.parse_args()

    with open(args.records, encoding="utf-8") as f:
        records = [json.loads(line) for line in f if line.strip()]

    tmpdir = tempfile.mkdtemp(prefix="trl-expected-")
    try:
        tokenizers = load_tokenizers(os.path.abspath(args.shared), tmpdir)

        # Pass 1: render the texts and queue the tokenizer calls.
        rows, requests = [], []

        def queue(tok_name, text, special):
            requests.append({"tokenizer": tok_name, "text": text, "add_special_tokens": special})
            return len(requests) - 1

        for tok_name in ["qwen3", "llama3", "mistral"]:
            if tok_name not in tokenizers:
                continue
            tok = tokenizers[tok_name]
            for rec in records:
                try:
                    fmt, p, pc, pr, special = texts_for(rec, tok)
                except jinja2.exceptions.TemplateError as e:
                    rows.append({"tokenizer": tok_name, "record": rec["id"], "skipped": f"TemplateError: {e}"})
                    continue
                row = {"tokenizer": tok_name, "record": rec["id"], "format": fmt,
                       "prompt_text": p, "prompt_chosen_text": pc, "prompt_rejected_text": pr,
                       "add_special_tokens": special,
                       "_q": [queue(tok_name, p, special), queue(tok_name, pc, special), queue(tok_name, pr, special)]}
                # Diagnostic only: the completion text tokenized on its own (no special tokens), which is
                # what a separate encoding of prompt and completion would give.
                row["_sep"] = [
                    queue(tok_name, pc[len(p):], False) if pc.startswith(p) else None,
                    queue(tok_name, pr[len(p):], False) if pr.startswith(p) else None,
                ]
                rows.append(row)

        ids = tokenize_all(args.node, args.node_modules, tokenizers, requests)

        # Pass 2: split, truncate, write.
        out_lines = []
        summary = []
        for row in rows:
            if "skipped" in row:
                out_lines.append(row)
                summary.append(f"{row['tokenizer']:8s} {row['record']:28s} SKIPPED ({row['skipped']})")
                continue
            qp, qc, qr = row.pop("_q")
            sc, sr = row.pop("_sep")
            prompt_ids, pc_ids, pr_ids = ids[qp], ids[qc], ids[qr]
            chosen_ids = pc_ids[len(prompt_ids):]
            rejected_ids = pr_ids[len(prompt_ids):]
            base = dict(row)
            base["prompt_ids"] = prompt_ids
            base["chosen_ids"] = chosen_ids
            base["rejected_ids"] = rejected_ids
            base["prompt_is_prefix_of_chosen"] = pc_ids[: len(prompt_ids)] == prompt_ids
            base["prompt_is_prefix_of_rejected"] = pr_ids[: len(prompt_ids)] == prompt_ids
            base["separate_chosen_ids"] = ids[sc] if sc is not None else None
            base["separate_rejected_ids"] = ids[sr] if sr is not None else None
            flags = []
            if not base["prompt_is_prefix_of_chosen"] or not base["prompt_is_prefix_of_rejected"]:
                flags.append("PREFIX-MISMATCH")
            if base["separate_chosen_ids"] != chosen_ids or base["separate_rejected_ids"] != rejected_ids:
                flags.append("joint!=separate")
            summary.append(f"{row['tokenizer']:8s} {row['record']:28s} prompt={len(prompt_ids):3d} "
                           f"chosen={len(chosen_ids):3d} rejected={len(rejected_ids):3d} {' '.join(flags)}")
            for max_length in MAX_LENGTHS:
                for mode in TRUNCATION_MODES:
                    if max_length is None and mode != "keep_start":
                        continue  # no truncation: the mode does not matter
                    line = {"tokenizer": base["tokenizer"], "record": base["record"],
                            "max_length": max_length, "truncation_mode": mode}
                    line.update({k: v for k, v in base.items() if k not in line})
                    dropped = max_length is not None and mode == "keep_start" and len(prompt_ids) >= max_length
                    line["dropped"] = dropped
                    for branch, comp in (("chosen", chosen_ids), ("rejected", rejected_ids)):
                        if dropped:
                            line[f"{branch}_input_ids"] = None
                            line[f"{branch}_completion_mask"] = None
                            line[f"{branch}_logp_positions"] = None
                            continue
                        seq, mask = truncate(prompt_ids, comp, max_length, mode)
                        line[f"{branch}_input_ids"] = seq
                        line[f"{branch}_completion_mask"] = mask
                        # compute_ref_log_probs: shift by one; position 0 is never scored.
                        line[f"{branch}_logp_positions"] = [t for t in range(1, len(seq)) if mask[t] == 1]
                    out_lines.append(line)

        with open(args.out, "w", encoding="utf-8") as f:
            for line in out_lines:
                f.write(json.dumps(line, ensure_ascii=False) + "\n")

        manifest = {
            "generator": "make_expected.py + tokenize.js",
            "rule": "TRL 1.x DPOTrainer (see README.md)",
            "python": platform.python_version(),
            "jinja2": jinja2.__version__,
            "hf_env_sha256": sha256_file(os.path.join(HF_ENV_DIR, "hf_env.py")),
            "node": subprocess.run([args.node, "--version"], capture_output=True, text=True).stdout.strip(),
            "tokenizers_binding": json.load(open(os.path.join(args.node_modules, "@anush008", "tokenizers", "package.json")))["version"],
            "strftime_now": "2024-07-26T12:00:00Z",
            "max_lengths": MAX_LENGTHS,
            "truncation_modes": TRUNCATION_MODES,
            "records_sha256": sha256_file(args.records),
            "tokenizers": {
                name: {
                    "tokenizer_json": (os.path.relpath(t["tokenizer_source"], REPO) if t["tokenizer_source"].startswith(REPO)
                                       else "shared/tokenizers/" + name + "/tokenizer.json"),
                    "tokenizer_json_sha256": t["tokenizer_sha256"],
                    "chat_template": t["template_source"],
                    "chat_template_sha256": t["template_sha256"],
                    "special_tokens": t["special_tokens"],
                    "eos_token": t["eos_token"],
                }
                for name, t in tokenizers.items()
            },
        }
        with open(os.path.join(HERE, "manifest.json"), "w", encoding="utf-8") as f:
            json.dump(manifest, f, ensure_ascii=False, indent=1)
            f.write("\n")
        print("\n".join(summary))
        print(f"wrote {len(out_lines)} lines to {os.path.relpath(args.out)}")
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)


if __name__ == "__main__":
    main()
