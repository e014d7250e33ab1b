package stages

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/srdpo/srdpo/schemas"
)

// CorpusFormat names a preference-corpus record format.
type CorpusFormat string

const (
	FormatAuto              CorpusFormat = "auto" // detect per record
	FormatTRLStandard       CorpusFormat = "trl_standard"
	FormatTRLConversational CorpusFormat = "trl_conversational"
	FormatHHRLHF            CorpusFormat = "hh_rlhf"
	FormatShareGPT          CorpusFormat = "sharegpt"
	FormatUltraFeedback     CorpusFormat = "ultrafeedback"
)

// recordFormat is one preference-record format: how a record is told to
// be of it by its fields, and how it is parsed. Adding a format is a
// CorpusFormat and one row of recordFormats.
type recordFormat struct {
	name   CorpusFormat
	detect func(obj map[string]json.RawMessage) bool
	parse  func(obj map[string]json.RawMessage, o parseOptions, p *schemas.Preference) *recordError
	// scored formats need their records' gold scores.
	scored bool
}

// recordFormats in the order auto detection tries them: a record is of the
// first format whose detect holds. Every record whose chosen is a list of
// messages is told apart before HH-RLHF's and the standard format's tests.
var recordFormats = []recordFormat{
	{name: FormatShareGPT, detect: hasField("conversations"), parse: parseShareGPT},
	{name: FormatUltraFeedback, detect: isUltraFeedback, parse: parseConversational, scored: true},
	{name: FormatTRLConversational, detect: chosenIsMessages, parse: parseConversational},
	{name: FormatHHRLHF, detect: isHHDialogue, parse: parseHH},
	{name: FormatTRLStandard, detect: func(map[string]json.RawMessage) bool { return true }, parse: parseTRLStandard},
}

// CorpusFormats lists the formats a corpus may be forced to: auto, then
// the record formats in the order detection tries them.
func CorpusFormats() []CorpusFormat {
	out := []CorpusFormat{FormatAuto}
	for _, f := range recordFormats {
		out = append(out, f.name)
	}
	return out
}

// ParseCorpusFormat checks a user-given format name.
func ParseCorpusFormat(s string) (CorpusFormat, error) {
	for _, f := range CorpusFormats() {
		if string(f) == s {
			return f, nil
		}
	}
	return "", fmt.Errorf("unknown corpus format %q (want one of %v)", s, CorpusFormats())
}

// Dead-letter reasons: stable codes that tests, counters and users rely on.
const (
	ReasonUnreadableFile     = "unreadable_file"     // I/O, decompression or Parquet failure
	ReasonUnsupportedFile    = "unsupported_file"    // extension is not .jsonl/.json/.parquet (+.gz)
	ReasonTooLarge           = "too_large"           // record over the size limit
	ReasonInvalidUTF8        = "invalid_utf8"        // record bytes are not UTF-8
	ReasonUnpairedSurrogate  = "unpaired_surrogate"  // a \u escape of half a UTF-16 pair (would become U+FFFD)
	ReasonMalformedJSON      = "malformed_json"      // not parseable JSON
	ReasonNotAnObject        = "not_an_object"       // JSON, but not an object
	ReasonMissingField       = "missing_field"       // a required field is absent
	ReasonWrongType          = "wrong_type"          // a field has the wrong JSON type
	ReasonEmptyPrompt        = "empty_prompt"        // prompt is empty or blank
	ReasonEmptyChosen        = "empty_chosen"        // chosen response is empty or blank
	ReasonEmptyRejected      = "empty_rejected"      // rejected response is empty or blank
	ReasonIdentical          = "identical_responses" // chosen == rejected
	ReasonNoSharedPrompt     = "no_shared_prompt"    // implicit prompt: chosen and rejected share nothing
	ReasonHHNoAssistant      = "hh_no_assistant"     // HH-RLHF dialogue has no assistant turn
	ReasonHHPrefixMismatch   = "hh_prefix_mismatch"  // HH-RLHF dialogues differ before the last assistant turn
	ReasonBadMessage         = "bad_message"         // message is not {role, content} strings
	ReasonUnknownRole        = "unknown_role"        // role is not system/user/assistant (or a known alias)
	ReasonBadTurnOrder       = "bad_turn_order"      // prompt does not end with user, or response not with assistant
	ReasonBadScore           = "bad_score"           // gold score not a finite number, or only one given
	ReasonBadID              = "bad_id"              // id field not a non-empty string or integer
	ReasonDuplicateID        = "duplicate_id"        // another record has the same id
	ReasonUnrecognisedRecord = "unrecognised_record" // no known format fits
	ReasonTemplateError      = "template_error"      // the chat template raised an error (raise_exception, a bad value)
	ReasonTemplatePrefix     = "template_prefix"     // the rendered prompt is not a prefix of the rendered conversation
	ReasonBadTools           = "bad_tools"           // tools or chat_template_kwargs are not what a template takes
)

// recordError is why a record is dead.
type recordError struct {
	reason, detail string
}

func (e *recordError) Error() string { return e.reason + ": " + e.detail }

func deadf(reason, format string, args ...any) *recordError {
	return &recordError{reason: reason, detail: fmt.Sprintf(format, args...)}
}

// parseOptions are the settings of record normalisation.
type parseOptions struct {
	Format      CorpusFormat
	Template    ChatTemplate
	Aug         Augmentation // how p enters a conversation; Prompt "" renders no p⊕x
	IDField     string
	OffsetField string
	GivenRef    bool // keep a precomputed reference's columns (given_ref.go)
}

// hhAssistant is where HH-RLHF dialogues are split.
const hhAssistant = "\n\nAssistant:"

// parseRecord turns one JSON record into a normalised preference row.
func parseRecord(raw []byte, o parseOptions) (schemas.Preference, *recordError) {
	var p schemas.Preference
	if !utf8.Valid(raw) {
		// encoding/json would silently replace the bad bytes.
		return p, deadf(ReasonInvalidUTF8, "record is not valid UTF-8")
	}
	raw = bytes.TrimSpace(raw)
	if !json.Valid(raw) {
		var v any
		err := json.Unmarshal(raw, &v)
		return p, deadf(ReasonMalformedJSON, "%v", err)
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return p, deadf(ReasonNotAnObject, "record is a JSON %s, want an object", jsonKind(raw))
	}
	// encoding/json would turn half a surrogate pair into U+FFFD without a
	// word: the text would change. Name the field that holds it.
	for _, k := range sortedKeys(obj) {
		if v, _, found := schemas.UnpairedSurrogate(obj[k]); found {
			return p, deadf(ReasonUnpairedSurrogate, "field %q holds the unpaired surrogate escape \\u%04x, which would become U+FFFD", k, v)
		}
	}
	for _, k := range []string{"chosen", "rejected"} {
		if _, ok := obj[k]; !ok {
			return p, deadf(ReasonMissingField, "field %q is missing", k)
		}
	}
	format, ok := formatOf(obj, o.Format)
	if !ok {
		return p, deadf(ReasonUnrecognisedRecord, "no corpus format fits this record")
	}
	var err *recordError
	if err = format.parse(obj, o, &p); err != nil {
		return p, err
	}
	p.SourceFormat = string(format.name)
	if err := checkTexts(p); err != nil {
		return p, err
	}
	if p.ScoreChosen, p.ScoreRejected, err = parseScores(obj); err != nil {
		return p, err
	}
	if format.scored && p.ScoreChosen == nil {
		return p, deadf(ReasonMissingField, "%s records need score_chosen and score_rejected", format.name)
	}
	if o.OffsetField != "" {
		if v, ok := obj[o.OffsetField]; ok && string(v) != "null" {
			f, err := finiteNumber(v)
			if err != nil {
				return p, deadf(ReasonWrongType, "field %q: %v", o.OffsetField, err)
			}
			p.Offset = &f
		}
	}
	if o.GivenRef {
		if err := parseGivenRef(obj, &p); err != nil {
			return p, err
		}
	}
	if p.ID, err = recordID(obj, o.IDField, p); err != nil {
		return p, err
	}
	return p, nil
}

func jsonKind(raw []byte) string {
	switch raw[0] {
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	}
	return "number"
}

// formatOf is a record's format: the one forced, or the first of
// recordFormats that detects it.
func formatOf(obj map[string]json.RawMessage, forced CorpusFormat) (recordFormat, bool) {
	for _, f := range recordFormats {
		if forced == f.name || (forced == FormatAuto || forced == "") && f.detect(obj) {
			return f, true
		}
	}
	return recordFormat{}, false
}

func hasField(k string) func(map[string]json.RawMessage) bool {
	return func(obj map[string]json.RawMessage) bool {
		_, ok := obj[k]
		return ok
	}
}

// chosenIsMessages tells a conversational record: chosen is a list.
func chosenIsMessages(obj map[string]json.RawMessage) bool {
	c := bytes.TrimSpace(obj["chosen"])
	return len(c) > 0 && c[0] == '['
}

// isUltraFeedback tells UltraFeedback's binarised records: conversational,
// with a gold score.
func isUltraFeedback(obj map[string]json.RawMessage) bool {
	return chosenIsMessages(obj) && (hasField("score_chosen")(obj) || hasField("score_rejected")(obj))
}

// isHHDialogue tells HH-RLHF's records: no prompt, and two whole
// dialogues of Human and Assistant turns.
func isHHDialogue(obj map[string]json.RawMessage) bool {
	if _, ok := obj["prompt"]; ok {
		return false
	}
	var c, r string
	return json.Unmarshal(obj["chosen"], &c) == nil && json.Unmarshal(obj["rejected"], &r) == nil &&
		strings.Contains(c, "\n\nHuman:") && strings.Contains(c, hhAssistant) &&
		strings.Contains(r, "\n\nHuman:") && strings.Contains(r, hhAssistant)
}

func stringField(obj map[string]json.RawMessage, k string) (string, *recordError) {
	v, ok := obj[k]
	if !ok {
		return "", deadf(ReasonMissingField, "field %q is missing", k)
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return "", deadf(ReasonWrongType, "field %q is a JSON %s, want a string", k, jsonKind(bytes.TrimSpace(v)))
	}
	return s, nil
}

// parseTRLStandard reads prompt/chosen/rejected strings; without a prompt,
// the prompt is the longest common prefix, as TRL's extract_prompt does.
func parseTRLStandard(obj map[string]json.RawMessage, _ parseOptions, p *schemas.Preference) *recordError {
	var err *recordError
	if p.Chosen, err = stringField(obj, "chosen"); err != nil {
		return err
	}
	if p.Rejected, err = stringField(obj, "rejected"); err != nil {
		return err
	}
	if _, ok := obj["prompt"]; ok {
		p.Prompt, err = stringField(obj, "prompt")
		return err
	}
	n := commonPrefix(p.Chosen, p.Rejected)
	if n == 0 {
		return deadf(ReasonNoSharedPrompt, "no prompt field, and chosen and rejected share no prefix to take as the prompt")
	}
	p.Prompt, p.Chosen, p.Rejected = p.Chosen[:n], p.Chosen[n:], p.Rejected[n:]
	return nil
}

// commonPrefix is the byte length of the shared prefix of a and b, ending on
// a rune boundary; like TRL, a space just before the split goes with the
// responses.
func commonPrefix(a, b string) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	for n > 0 && n < len(a) && !utf8.RuneStart(a[n]) {
		n--
	}
	if n > 0 && (n < len(a) || n < len(b)) && a[n-1] == ' ' {
		n--
	}
	return n
}

// parseHH splits two full dialogues at their last assistant turn; the parts
// before must agree.
func parseHH(obj map[string]json.RawMessage, _ parseOptions, p *schemas.Preference) *recordError {
	var prompts [2]string
	for i, k := range []string{"chosen", "rejected"} {
		d, err := stringField(obj, k)
		if err != nil {
			return err
		}
		at := strings.LastIndex(d, hhAssistant)
		if at < 0 {
			return deadf(ReasonHHNoAssistant, "%s dialogue has no %q turn", k, strings.TrimSpace(hhAssistant))
		}
		prompts[i] = d[:at+len(hhAssistant)]
		if i == 0 {
			p.Chosen = d[at+len(hhAssistant):]
		} else {
			p.Rejected = d[at+len(hhAssistant):]
		}
	}
	if prompts[0] != prompts[1] {
		return deadf(ReasonHHPrefixMismatch, "chosen and rejected differ before their last assistant turn (at byte %d)", commonPrefix(prompts[0], prompts[1]))
	}
	p.Prompt = prompts[0]
	return nil
}

// checkTexts applies the rules every format shares.
func checkTexts(p schemas.Preference) *recordError {
	switch {
	case strings.TrimSpace(p.Prompt) == "":
		return deadf(ReasonEmptyPrompt, "prompt is empty")
	case strings.TrimSpace(p.Chosen) == "":
		return deadf(ReasonEmptyChosen, "chosen response is empty")
	case strings.TrimSpace(p.Rejected) == "":
		return deadf(ReasonEmptyRejected, "rejected response is empty")
	case p.Chosen == p.Rejected:
		return deadf(ReasonIdentical, "chosen and rejected responses are identical")
	}
	return nil
}

func finiteNumber(v json.RawMessage) (float64, error) {
	var f float64
	if err := json.Unmarshal(v, &f); err != nil {
		return 0, fmt.Errorf("%s is not a number", bytes.TrimSpace(v))
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("not finite")
	}
	return f, nil
}

// parseScores reads optional gold scores, which must come as a pair.
func parseScores(obj map[string]json.RawMessage) (*float64, *float64, *recordError) {
	var out [2]*float64
	for i, k := range []string{"score_chosen", "score_rejected"} {
		v, ok := obj[k]
		if !ok || string(v) == "null" {
			continue
		}
		f, err := finiteNumber(v)
		if err != nil {
			return nil, nil, deadf(ReasonBadScore, "%s: %v", k, err)
		}
		out[i] = &f
	}
	if (out[0] == nil) != (out[1] == nil) {
		return nil, nil, deadf(ReasonBadScore, "score_chosen and score_rejected must be given together")
	}
	return out[0], out[1], nil
}

// recordID is the record's own id, or a hash of its normalised content, so
// the same pair gets the same id in any file or format.
func recordID(obj map[string]json.RawMessage, field string, p schemas.Preference) (string, *recordError) {
	if v, ok := obj[field]; ok && field != "" {
		v = bytes.TrimSpace(v)
		var s string
		if err := json.Unmarshal(v, &s); err == nil {
			if strings.TrimSpace(s) == "" {
				return "", deadf(ReasonBadID, "field %q is empty", field)
			}
			return s, nil
		}
		if _, err := strconv.ParseInt(string(v), 10, 64); err == nil {
			return string(v), nil
		}
		return "", deadf(ReasonBadID, "field %q is %s, want a string or an integer", field, v)
	}
	h := sha256.New()
	for _, s := range []string{p.Prompt, p.Chosen, p.Rejected} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:16]), nil
}

func sortedKeys(m map[string]json.RawMessage) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// NormaliseRecord reads one corpus record as the corpus reader does (any
// format, or the one given), rendering conversations with the template
// and p⊕x as aug says; the error names the dead-letter reason. srdpo
// render shows with it what scoring would use.
func NormaliseRecord(raw []byte, format CorpusFormat, t ChatTemplate, aug Augmentation) (schemas.Preference, error) {
	p, err := parseRecord(raw, parseOptions{Format: format, Template: t, Aug: aug, IDField: "id", OffsetField: "offset"})
	if err != nil {
		return p, err
	}
	return p, nil
}
