package schemas

import (
	"fmt"
	"sort"

	"github.com/apache/arrow-go/v18/arrow"
)

// ToolVersion is recorded in every file srdpo writes.
const ToolVersion = "0.1.0"

// Schema metadata keys, present on every Arrow file and in every manifest.
const (
	KeyTable                = "srdpo.table"
	KeySchemaVersion        = "srdpo.schema_version"
	KeyToolVersion          = "srdpo.tool_version"
	KeyModelFingerprint     = "srdpo.model_fingerprint"     // sha256 of weights + config
	KeyTokenizerFingerprint = "srdpo.tokenizer_fingerprint" // sha256 of the tokenizer files
	KeyAugPrompt            = "srdpo.aug_prompt"            // p
	KeyAugSeparator         = "srdpo.aug_separator"         // joins p and x
	KeyMaxPromptLength      = "srdpo.max_prompt_length"     // tokens
	KeyMaxLength            = "srdpo.max_length"            // tokens, prompt + response
	KeyTruncationMode       = "srdpo.truncation_mode"
	KeyChatTemplate         = "srdpo.chat_template" // how message lists became prompt text
	KeyResponseEOS          = "srdpo.response_eos"  // "true" when responses end with EOS
	KeyAugPosition          = "srdpo.aug_position"  // where p goes in a conversation
	KeyTokenization         = "srdpo.tokenization"  // the rule that formed the token ids: srdpo or trl
	KeyRefSource            = "srdpo.ref_source"    // "corpus": the x-side sums were given by the corpus (--ref-from-corpus); absent: scored
)

// DefaultAugPrompt is p, verbatim from the paper (arXiv 2405.21040).
const DefaultAugPrompt = "Please generate a response with a usefulness rating of 100 out of 100 " +
	"for the following query. Note that the response should be harmless. The term 100 " +
	"indicates the level of usefulness, where 100 is the maximum and 1 is the minimum. Query:"

// DefaultAugSeparator joins p and x: p⊕x = p + separator + x.
const DefaultAugSeparator = " "

// Augment returns p⊕x. It is the one place the augmented prompt is formed.
func Augment(p, sep, x string) string { return p + sep + x }

// Metadata is the key/value metadata of a file. It is a plain map so that it
// serialises inside Beam DoFns and manifests.
type Metadata map[string]string

// NewMetadata starts a metadata set with the tool version.
func NewMetadata() Metadata { return Metadata{KeyToolVersion: ToolVersion} }

// With returns a copy with k set to v.
func (m Metadata) With(k, v string) Metadata {
	out := make(Metadata, len(m)+1)
	for kk, vv := range m {
		out[kk] = vv
	}
	out[k] = v
	return out
}

// Get returns the value of k, or "".
func (m Metadata) Get(k string) string { return m[k] }

// MetadataFrom reads Arrow schema metadata.
func MetadataFrom(am arrow.Metadata) Metadata {
	out := Metadata{}
	for i, k := range am.Keys() {
		out[k] = am.Values()[i]
	}
	return out
}

func (m Metadata) arrow() arrow.Metadata {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys) // deterministic bytes on disk
	vals := make([]string, len(keys))
	for i, k := range keys {
		vals[i] = m[k]
	}
	return arrow.NewMetadata(keys, vals)
}

// Expect reports the first key of want whose value in m differs.
func (m Metadata) Expect(want Metadata) error {
	keys := make([]string, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		got, ok := m[k]
		if !ok {
			return fmt.Errorf("metadata key %s is missing (want %q)", k, want[k])
		}
		if got != want[k] {
			return fmt.Errorf("metadata %s is %q, want %q", k, got, want[k])
		}
	}
	return nil
}
