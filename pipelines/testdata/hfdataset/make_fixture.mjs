// Writes a small, deterministic Parquet file laid out like a Hugging Face
// dataset repo (data/{split}-{index:05d}-of-{num:05d}.parquet) with a
// `huggingface` key-value metadata entry in the datasets>=4 ("List") form.
//
// Usage: node make_fixture.mjs OUT_DIR
// Needs the npm package hyparquet-writer (see README.md for NODE_PATH).
//
// Note: this file is written by hyparquet-writer, not by pyarrow/datasets, so
// it has no `ARROW:schema` key and its physical encodings differ from what
// `Dataset.to_parquet` produces; the logical schema and the `huggingface`
// metadata follow what datasets writes.
import { mkdirSync } from 'node:fs'
import path from 'node:path'
import { createRequire } from 'node:module'
import { pathToFileURL } from 'node:url'

// ESM ignores NODE_PATH, so resolve the package by hand: first the normal
// lookup (node_modules next to this file or above it), then every directory
// listed in NODE_PATH (either a node_modules dir or a project dir holding one).
async function importPkg(name) {
  try {
    return await import(name)
  } catch (err) {
    if (err?.code !== 'ERR_MODULE_NOT_FOUND') throw err
    for (const dir of (process.env.NODE_PATH || '').split(path.delimiter).filter(Boolean)) {
      try {
        const resolved = createRequire(path.join(path.resolve(dir), '_')).resolve(name)
        return await import(pathToFileURL(resolved).href)
      } catch {}
    }
    throw new Error(`cannot find npm package '${name}': install it (npm install ${name}) and set NODE_PATH to its node_modules directory`)
  }
}

const { parquetWriteFile } = await importPkg('hyparquet-writer')

const outDir = process.argv[2]
if (!outDir) {
  console.error('usage: node make_fixture.mjs OUT_DIR')
  process.exit(2)
}

// Features.to_dict() form written by datasets>=4 (Value / List, `_type` last,
// default-valued fields such as id=None and length=-1 omitted).
const features = {
  prompt: { dtype: 'string', _type: 'Value' },
  n_tokens: { dtype: 'int64', _type: 'Value' },
  score: { dtype: 'float32', _type: 'Value' },
  input_ids: { feature: { dtype: 'int64', _type: 'Value' }, _type: 'List' },
  messages: {
    feature: {
      role: { dtype: 'string', _type: 'Value' },
      content: { dtype: 'string', _type: 'Value' },
    },
    _type: 'List',
  },
  ref_chosen_logps: { dtype: 'float64', _type: 'Value' },
}
// Serialize like Python's json.dumps defaults (", " / ": " separators,
// ensure_ascii), which is what datasets uses for this metadata value.
function pyDumps(v) {
  if (v === null) return 'null'
  if (Array.isArray(v)) return '[' + v.map(pyDumps).join(', ') + ']'
  if (typeof v === 'object') {
    return '{' + Object.entries(v).map(([k, x]) => pyDumps(k) + ': ' + pyDumps(x)).join(', ') + '}'
  }
  if (typeof v === 'string') {
    return JSON.stringify(v).replace(/[\u0080-\uffff]/g, c => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'))
  }
  return JSON.stringify(v)
}
const huggingface = pyDumps({ info: { features } })

const rows = [
  {
    prompt: 'What is 2+2?',
    n_tokens: 7,
    score: 0.5,
    input_ids: [101, 2054, 2003],
    messages: [
      { role: 'user', content: 'What is 2+2?' },
      { role: 'assistant', content: '4' },
    ],
    ref_chosen_logps: -12.25,
  },
  {
    prompt: 'Say hi',
    n_tokens: 9007199254740993n, // > 2^53: must come out as a string
    score: 0.1, // not exactly representable as float32
    input_ids: [],
    messages: [{ role: 'user', content: 'Say hi' }],
    ref_chosen_logps: null, // optional float64
  },
]

const col = name => rows.map(r => r[name])
const columnData = [
  { name: 'prompt', data: col('prompt') },
  { name: 'n_tokens', data: col('n_tokens').map(v => BigInt(v)) },
  { name: 'score', data: col('score') },
  { name: 'input_ids', data: col('input_ids').map(a => a.map(v => BigInt(v))) },
  { name: 'messages', data: col('messages') },
  { name: 'ref_chosen_logps', data: col('ref_chosen_logps') },
]

// Parquet schema as pyarrow writes it for these Arrow types
// (string, int64, float, list<int64>, list<struct<role,content>>, double).
const schema = [
  { name: 'schema', num_children: 6 },
  { name: 'prompt', type: 'BYTE_ARRAY', converted_type: 'UTF8', logical_type: { type: 'STRING' }, repetition_type: 'OPTIONAL' },
  { name: 'n_tokens', type: 'INT64', repetition_type: 'OPTIONAL' },
  { name: 'score', type: 'FLOAT', repetition_type: 'OPTIONAL' },
  { name: 'input_ids', repetition_type: 'OPTIONAL', converted_type: 'LIST', logical_type: { type: 'LIST' }, num_children: 1 },
  { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
  { name: 'element', type: 'INT64', repetition_type: 'OPTIONAL' },
  { name: 'messages', repetition_type: 'OPTIONAL', converted_type: 'LIST', logical_type: { type: 'LIST' }, num_children: 1 },
  { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
  { name: 'element', repetition_type: 'OPTIONAL', num_children: 2 },
  { name: 'role', type: 'BYTE_ARRAY', converted_type: 'UTF8', logical_type: { type: 'STRING' }, repetition_type: 'OPTIONAL' },
  { name: 'content', type: 'BYTE_ARRAY', converted_type: 'UTF8', logical_type: { type: 'STRING' }, repetition_type: 'OPTIONAL' },
  { name: 'ref_chosen_logps', type: 'DOUBLE', repetition_type: 'OPTIONAL' },
]

const file = path.join(outDir, 'data', 'train-00000-of-00001.parquet')
mkdirSync(path.dirname(file), { recursive: true })
parquetWriteFile({
  filename: file,
  columnData,
  schema,
  kvMetadata: [{ key: 'huggingface', value: huggingface }],
  createdBy: 'srdpo testdata fixture',
})
console.error(`wrote ${file}`)
