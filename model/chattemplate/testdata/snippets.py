"""Expected outputs for snippets.json: small templates that pin jinja2 semantics
the real templates touch only in part (white space control, scoping, loop
variables, slices, filters, Python methods and value printing, undefined
values, the sandbox). Rendered in transformers' environment (hf_env.py).

    python3 snippets.py   # rewrites snippets_expected.json
"""
import json
import hf_env

with open("snippets.json") as f:
    snippets = json.load(f)
out = []
for s in snippets:
    env = hf_env.make_environment()
    try:
        text = env.from_string(s["template"]).render(**s.get("vars", {}))
        out.append({"name": s["name"], "text": text})
    except Exception as e:  # noqa: BLE001 - the error is the expected output
        out.append({"name": s["name"], "error_type": type(e).__name__, "error": str(e)})
with open("snippets_expected.json", "w") as f:
    json.dump(out, f, ensure_ascii=False, indent=1)
    f.write("\n")
