#!/usr/bin/env python3
"""Render every template x every conversation with hf_env (transformers' exact Jinja
environment) and write the expected outputs.

Run from this folder:  python3 render_reference.py

Inputs:
  templates/<family>.jinja   template bytes (UTF-8), exactly as published
  templates/<family>.json    special tokens passed to the template (special_tokens_map)
  EXTERNAL (below)           templates that must not be copied into the repository,
                             read at run time from ../../../../shared (relative to here)
  conversations.json         the test cases

Outputs (deterministic; same inputs give byte-identical files):
  expected.jsonl   one JSON object per line, sorted by (template, case):
                   {"template", "case", "text"} or
                   {"template", "case", "error_type", "error"}
  manifest.json    the templates used: name, where the bytes are, sha256, special tokens

error_type is the Python exception class name. "TemplateError" (exactly, not a subclass)
means the template called raise_exception(msg) and error is msg verbatim. Other types
(UndefinedError, TypeError, SecurityError, ValueError, TemplateSyntaxError, ...) are
failures of Jinja/Python itself; their messages are Python's and are informative only.
"""

import hashlib
import json
import os
import sys

import jinja2

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import hf_env  # noqa: E402

# Templates read from outside the repository (licence: Llama 3 Community Licence; the
# file may be used for checks but not redistributed here). Paths are relative to HERE.
EXTERNAL = {
    "llama3-original": {
        "path": "../../../../shared/tokenizers/llama3/tokenizer_config.json",
        "json_field": "chat_template",
        "special_tokens": {"bos_token": "<|begin_of_text|>", "eos_token": "<|end_of_text|>"},
    },
}


def load_templates():
    out = []
    tdir = os.path.join(HERE, "templates")
    for fn in sorted(os.listdir(tdir)):
        if not fn.endswith(".jinja"):
            continue
        name = fn[: -len(".jinja")]
        with open(os.path.join(tdir, fn), "rb") as f:
            raw = f.read()
        with open(os.path.join(tdir, name + ".json"), encoding="utf-8") as f:
            tokens = json.load(f)
        out.append({"name": name, "file": "templates/" + fn, "raw": raw, "special_tokens": tokens})
    for name, ext in sorted(EXTERNAL.items()):
        path = os.path.normpath(os.path.join(HERE, ext["path"]))
        if not os.path.exists(path):
            sys.exit(f"external template {name}: {path} not found (needs the shared/ folder beside the repo)")
        with open(path, encoding="utf-8") as f:
            template = json.load(f)[ext["json_field"]]
        out.append(
            {
                "name": name,
                "file": ext["path"] + "#" + ext["json_field"],
                "raw": template.encode("utf-8"),
                "special_tokens": ext["special_tokens"],
                "external": True,
            }
        )
    out.sort(key=lambda t: t["name"])
    return out


def render_case(template: str, tokens: dict, case: dict) -> dict:
    try:
        text = hf_env.render(
            template,
            case["messages"],
            add_generation_prompt=case.get("add_generation_prompt", False),
            tools=case.get("tools"),
            documents=case.get("documents"),
            special_tokens=tokens,
            continue_final_message=case.get("continue_final_message", False),
            **case.get("kwargs", {}),
        )
        return {"text": text}
    except Exception as e:  # noqa: BLE001 - every failure is recorded
        return {"error_type": type(e).__name__, "error": str(e)}


def main():
    with open(os.path.join(HERE, "conversations.json"), encoding="utf-8") as f:
        cases = json.load(f)
    names = [c["name"] for c in cases]
    assert len(names) == len(set(names)), "duplicate case names"

    templates = load_templates()
    rows = []
    for t in templates:
        template = t["raw"].decode("utf-8")
        for case in sorted(cases, key=lambda c: c["name"]):
            row = {"template": t["name"], "case": case["name"]}
            row.update(render_case(template, t["special_tokens"], case))
            rows.append(row)

    with open(os.path.join(HERE, "expected.jsonl"), "w", encoding="utf-8", newline="\n") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")

    manifest = {
        "generator": "render_reference.py with hf_env.py",
        "jinja2_version": jinja2.__version__,
        "python_version": sys.version.split()[0],
        "strftime_now_fixed_instant": hf_env.FIXED_NOW.isoformat() + "Z",
        "templates": [
            {
                "name": t["name"],
                "file": t["file"],
                "external": t.get("external", False),
                "sha256": hashlib.sha256(t["raw"]).hexdigest(),
                "bytes": len(t["raw"]),
                "special_tokens": t["special_tokens"],
            }
            for t in templates
        ],
    }
    with open(os.path.join(HERE, "manifest.json"), "w", encoding="utf-8", newline="\n") as f:
        json.dump(manifest, f, ensure_ascii=False, indent=1)
        f.write("\n")

    n_err = sum(1 for r in rows if "error" in r)
    print(f"{len(templates)} templates x {len(cases)} cases = {len(rows)} rows ({n_err} errors)")


if __name__ == "__main__":
    main()
