// Batch tokenizer for make_expected.py: Hugging Face's own Rust `tokenizers`
// library through its node binding (@anush008/tokenizers 0.6.0).
//
// stdin:  {"tokenizers": {"name": "/path/to/tokenizer.json", ...},
//          "requests": [{"tokenizer": "name", "text": "...", "add_special_tokens": true}, ...]}
// stdout: {"ids": [[...], ...]}   (one list per request, same order)
//
// `add_special_tokens` is what transformers passes to the backend: true for
// `processing_class(text=...)` (standard rows), false for
// `apply_chat_template(..., tokenize=True)` (conversational rows).
//
// Run from a folder where `npm install @anush008/tokenizers@0.6.0` was done,
// or with NODE_PATH pointing at its node_modules (make_expected.py does that).
const fs = require("fs");
const { Tokenizer } = require("@anush008/tokenizers");

(async () => {
  const input = JSON.parse(fs.readFileSync(0, "utf8"));
  const toks = {};
  for (const [name, file] of Object.entries(input.tokenizers)) toks[name] = Tokenizer.fromFile(file);
  const ids = [];
  for (const r of input.requests) {
    const enc = await toks[r.tokenizer].encode(r.text, null, { addSpecialTokens: !!r.add_special_tokens });
    ids.push(Array.from(enc.getIds()));
  }
  process.stdout.write(JSON.stringify({ ids }));
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
