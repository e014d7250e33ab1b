// Derives the expected ids of strings.jsonl from Hugging Face's own Rust
// tokenizers library (its node binding), for every tokenizer the tests
// check. Development only; the tests read the committed expected.jsonl.gz.
//
//   npm install @anush008/tokenizers@0.6.0
//   node reference.js [path/to/shared/tokenizers]   # writes expected.jsonl.gz
//
// With the shared tokenizers folder given, Llama 3's real file is added
// (its ids only; the file itself stays out of the repository).
const fs = require("fs"), os = require("os"), path = require("path"), zlib = require("zlib");
const { Tokenizer } = require("@anush008/tokenizers");

const here = __dirname;
const gunzip = (p) => zlib.gunzipSync(fs.readFileSync(p)).toString("utf8");
const strings = fs.readFileSync(path.join(here, "strings.jsonl"), "utf8").split("\n").filter((l) => l !== "").map((l) => JSON.parse(l));

function base(name) {
  if (name === "gpt2") {
    const vocab = JSON.parse(gunzip(path.join(here, "gpt2/vocab.json.gz")));
    const merges = gunzip(path.join(here, "gpt2/merges.txt.gz")).split("\n").filter((l, i) => l !== "" && !(i === 0 && l.startsWith("#version")));
    return { version: "1.0", truncation: null, padding: null, added_tokens: [], normalizer: null, pre_tokenizer: null, post_processor: null, decoder: null,
      model: { type: "BPE", dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab, merges } };
  }
  return JSON.parse(gunzip(path.join(here, name + "/tokenizer.json.gz")));
}

const variants = JSON.parse(fs.readFileSync(path.join(here, "variants.json"), "utf8"));
const files = {};
for (const [name, v] of Object.entries(variants)) {
  if (name.startsWith("_")) continue;
  const t = base(v.base);
  for (const k of ["added_tokens", "normalizer", "pre_tokenizer", "post_processor", "decoder"]) if (k in v) t[k] = v[k];
  if ("ignore_merges" in v) t.model.ignore_merges = v.ignore_merges;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tok-"));
  fs.writeFileSync(path.join(dir, "tokenizer.json"), JSON.stringify(t));
  files[name] = path.join(dir, "tokenizer.json");
}
for (const name of ["qwen3", "mistral"]) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tok-"));
  fs.writeFileSync(path.join(dir, "tokenizer.json"), gunzip(path.join(here, name + "/tokenizer.json.gz")));
  files[name] = path.join(dir, "tokenizer.json");
}
if (process.argv[2]) files["llama3"] = path.join(process.argv[2], "llama3/tokenizer.json");

(async () => {
  const out = [];
  for (const [name, file] of Object.entries(files)) {
    const tok = Tokenizer.fromFile(file);
    const rec = { tokenizer: name, ids: [], special: [], decoded: [] };
    for (const s of strings) {
      const ids = (await tok.encode(s, null, { addSpecialTokens: false })).getIds();
      rec.ids.push(Array.from(ids));
      rec.special.push(Array.from((await tok.encode(s, null, { addSpecialTokens: true })).getIds()));
      rec.decoded.push(await tok.decode(Array.from(ids), false));
    }
    out.push(JSON.stringify(rec));
    console.log(name, rec.ids.reduce((a, x) => a + x.length, 0), "ids");
  }
  fs.writeFileSync(path.join(here, "expected.jsonl.gz"), zlib.gzipSync(out.join("\n") + "\n"));
})();
