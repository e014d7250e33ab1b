// Package tokenizer turns text into token ids and back, exactly as the
// model a corpus is scored with was trained to read it.
//
// Three kinds are supported behind one interface:
//   - Byte: each UTF-8 byte is its own id, plus EOS; needs no files (the
//     embedded known-reward task uses it).
//   - GPT-2's vocab.json + merges.txt: byte-level BPE with GPT-2's
//     pre-tokenisation, no added tokens parsed out of text.
//   - Hugging Face tokenizer.json (+ tokenizer_config.json): the pipeline of
//     HF's `tokenizers` library — added tokens, normalizer, pre-tokenizer,
//     BPE model, post-processor, decoder — for the parts that the Llama 2/3,
//     Mistral, Qwen2/3, GPT-NeoX (Pythia), SmolLM and GPT-2 files use. Each
//     part follows the library's Rust source; a part it does not implement
//     is an error naming it, never a silent substitute.
//
// The ids are checked against HF's own library in the tests (testdata holds
// ids derived from it, for real tokenizer files).
package tokenizer
